"""How the registry pages write metrics, frameworks and tasks."""

from __future__ import annotations

import math

from django import template

from registry.charts import metric_label as _metric_label
from registry.models import Framework, Task

register = template.Library()


@register.filter
def metric_label(name: str) -> str:
    return _metric_label(str(name))


@register.filter
def metric(value) -> str:
    """A metric to four significant digits (a count such as best_iteration stays whole)."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "n/a"
    if number == int(number) and abs(number) >= 1:
        return f"{int(number):,}"
    return f"{number:.4g}"


@register.filter
def signed_metric(value) -> str:
    if value is None:
        return ""
    text = metric(value)
    return text if text.startswith("-") or text in ("0", "n/a") else f"+{text}"


@register.filter
def framework_label(value: str) -> str:
    return Framework(value).label if value in Framework.values else (value or "—")


@register.filter
def task_label(value: str) -> str:
    return Task(value).label if value in Task.values else (value or "—")


@register.filter
def param_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "—"
    if value is None or value == "":
        return "—"
    return str(value)


@register.filter
def percent(rate) -> str:
    """A share as a percentage: 0.0213 -> 2.1%, 0.0004 -> 0.04%."""
    try:
        value = float(rate) * 100
    except (TypeError, ValueError):
        return "—"
    if value == 0:
        return "0%"
    if value < 0.1:
        return f"{value:.2g}%"
    return f"{value:.1f}%".replace(".0%", "%")


@register.inclusion_tag("registry/_champion_comparison.html")
def champion_comparison(version_id):
    """The comparison for a version named by id (a training job's result on its job page)."""
    from registry import selectors
    from registry.models import ModelVersion

    version = ModelVersion.objects.select_related("registered_model").filter(pk=version_id).first()
    return {"comparison": selectors.champion_comparison(version=version) if version is not None else None}
