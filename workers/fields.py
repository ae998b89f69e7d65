"""A job's parameters and result as fields a person reads, not a Python dict: humanised names,
values in words (dates, yes/no, lists), nested dicts one level deep as sub-lists, and links to the
jobs a job names (``training_job: 12`` opens job #12)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone

from portal.redact import redact

# Words that keep their own spelling in a humanised name.
WORDS = {"id": "ID", "ids": "IDs", "mlflow": "MLflow", "url": "URL", "auc": "AUC", "mae": "MAE", "rmse": "RMSE",
         "psi": "PSI", "ks": "KS", "r2": "R²", "api": "API", "sql": "SQL", "cpu": "CPU", "gpu": "GPU"}
# Keys whose value is the id of a job: shown as a link to it.
JOB_KEYS = {"job", "job_id", "training_job", "training_job_id"}


@dataclass
class Field:
    key: str
    label: str
    text: str = ""
    url: str = ""
    children: list[Field] = field(default_factory=list)


def humanise(key: str) -> str:
    """``"mlflow_run_id"`` -> ``"MLflow run ID"``; an id key names its object: ``"config_id"`` -> ``"Config"``."""
    words = str(key).replace("-", "_").split("_")
    if len(words) > 1 and words[-1] == "id":
        words = words[:-1]
    shown = [WORDS.get(w.lower(), w) for w in words if w]
    if not shown:
        return str(key)
    first = shown[0]
    shown[0] = first if first in WORDS.values() else first[:1].upper() + first[1:]
    return " ".join(shown)


def _datetime(text: str) -> dt.datetime | None:
    if len(text) < 16 or text[4:5] != "-" or "T" not in text and " " not in text[10:11]:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value


def value_text(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, str):
        moment = _datetime(value)
        # A parameter may be a URL with its password or a signed link: the page never shows those.
        return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else redact(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{humanise(k)}: {value_text(v)}" for k, v in value.items())
    return str(value)


def _field(key: str, value, depth: int) -> Field:
    item = Field(key=str(key), label=humanise(key))
    if key in JOB_KEYS and isinstance(value, int):
        item.text, item.url = f"Job #{value}", reverse("workers:job_detail", args=[value])
    elif str(key).endswith("_id") and isinstance(value, int) and not isinstance(value, bool):
        item.text = f"#{value}"
    elif isinstance(value, dict) and value and depth == 0:
        item.children = [_field(k, v, depth + 1) for k, v in value.items()]
    else:
        item.text = value_text(value)
    return item


def readable_fields(data) -> list[Field]:
    """The fields of a job's params or result; a result that is not a dict is one "Value" field."""
    if data is None or data == {} or data == []:
        return []
    if not isinstance(data, dict):
        return [Field(key="value", label="Value", text=value_text(data))]
    return [_field(key, value, 0) for key, value in data.items()]
