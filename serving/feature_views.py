"""Pages of the feature store: every feature view, one view (schema, freshness, size, read
latency, a lookup box, its jobs), the form that defines or changes one, and its actions.

Views parse, ask ``serving.permissions`` whether to show an action or its reason, call a
selector or a service and render; the services check everything again.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.errors import DomainError
from registry.datasets import size_text
from serving import permissions
from serving.feature_forms import FeatureViewForm, feature_lines, ttl_split, type_of_column
from serving.feature_store import selectors, services
from serving.feature_store.selectors import TIER_NAMES
from serving.feature_store.services import LAYOUT_FIELDS
from serving.models import FeatureView, OnlineTier

TIER_WORDS = {
    OnlineTier.REDIS: "Redis keeps each entity's values in memory: a read takes well under a millisecond, and "
                      "every entity costs memory.",
    OnlineTier.SQL: "SQL keeps them in a table of the portal's database: far cheaper per entity, and a read "
                    "takes a few milliseconds.",
}


def duration_words(seconds: float | None) -> str:
    """``seconds`` as a person says it: "40 seconds", "3 minutes", "5 hours", "2 days"."""
    if seconds is None:
        return ""
    seconds = max(float(seconds), 0.0)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = int(seconds)
    return f"{n} second{'s' if n != 1 else ''}"


def _ttl_words(seconds: int) -> str:
    if not seconds:
        return "for as long as it is the entity's newest"
    n, unit = ttl_split(seconds)
    return f"for {n} {unit[:-1] if n == 1 else unit} after its event time"


def _refuse(exc: DomainError):
    if exc.status == 403:
        raise PermissionDenied(exc.message)


def _lag(view: FeatureView) -> float | None:
    return max(time.time() - view.materialized_until, 0.0) if view.materialized_until is not None else None


def feature_view_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    views = list(selectors.feature_view_list(query=query))
    for view in views:
        view.lag_words = duration_words(_lag(view))
    return render(request, "serving/feature_view_list.html", {
        "views": views, "q": query,
        "can_create": selectors.projects_editable(user=request.user).exists(),
        "any_views": bool(views) or (bool(query) and FeatureView.objects.exists()),
    })


# --- one view ---------------------------------------------------------------------------------

def _names(view: FeatureView) -> dict:
    return {"tier_name": TIER_NAMES.get(view.online_tier, view.online_tier),
            "moving_to_name": TIER_NAMES.get(view.moving_to, "")}


def _health_context(view: FeatureView, *, fresh: bool = False) -> dict:
    health = selectors.view_health_kept(view=view, fresh=fresh)
    stats = view.stats or {}
    if health["error"] and health["entities"] is None and stats.get("entities") is not None:
        # The tier is down: what the last materialization measured is the best there is.
        health.update({k: stats.get(k) for k in ("entities", "bytes", "bytes_per_entity")}, from_stats=True)
    health["lag_words"] = duration_words(health["event_time_lag_seconds"])
    health["bytes_text"] = size_text(health["bytes"]) if health["bytes"] is not None else ""
    health["table_bytes_text"] = size_text(health["table_bytes"]) if health.get("table_bytes") else ""
    stale = (view.ttl_seconds and health["event_time_lag_seconds"] is not None
             and health["event_time_lag_seconds"] > view.ttl_seconds)
    health["stale"] = bool(stale)
    return {"health": health}


def _lookup_context(view: FeatureView, entity: str) -> dict:
    if not entity.strip():
        return {"lookup": None}
    lookup = selectors.view_lookup(view=view, entity=entity)
    lookup["age_words"] = duration_words(lookup["age"])
    return {"lookup": lookup}


def feature_view_detail(request: HttpRequest, name: str) -> HttpResponse:
    view = selectors.feature_view_get(name=name)
    entity = request.GET.get("entity", "")
    if request.htmx and request.htmx.target == "lookup-result":
        return render(request, "serving/feature_view_detail.html#lookup-result",
                      {"view": view, "entity": entity, **_names(view), **_lookup_context(view, entity)})
    can_edit, refusal = permissions.can_edit_feature_view(request.user, view.project)
    stats = view.stats or {}
    jobs = selectors.view_jobs(view=view)
    for job in jobs:
        job.tier_name = TIER_NAMES.get((job.params or {}).get("tier"), "")
    context = {
        "view": view, "project": view.project, "can_edit": can_edit, "refusal": refusal,
        "entity": entity, **_lookup_context(view, entity), **_health_context(view),
        "jobs": jobs, **_names(view), "active_job": selectors.view_active_job(view=view),
        "stats": stats, "rejected_examples": _examples(stats.get("rejected_examples")),
        "other_tier": OnlineTier.SQL if view.online_tier == OnlineTier.REDIS else OnlineTier.REDIS,
        "tier_words": TIER_WORDS.get(view.online_tier, ""),
        "ttl_words": _ttl_words(view.ttl_seconds), "schedule_words": _schedule_words(view.schedule),
    }
    context["other_tier_name"] = TIER_NAMES[context["other_tier"]]
    return render(request, "serving/feature_view_detail.html", context)


def _examples(examples) -> list[dict]:
    """Rejected rows as the materialize job recorded them ({"row": line of the file, "reason"}),
    for a table."""
    shown = []
    for example in (examples if isinstance(examples, list) else [])[:10]:
        if isinstance(example, dict):
            row = example.get("row")
            shown.append({"reason": str(example.get("reason") or ""),
                          "row": f"{row:,}" if isinstance(row, int) and not isinstance(row, bool) else ""})
        else:
            shown.append({"reason": str(example), "row": ""})
    return shown


def _schedule_words(cron: str) -> str:
    if not cron:
        return ""
    from workers.cron import describe

    return describe(cron)


def feature_view_health(request: HttpRequest, name: str) -> HttpResponse:
    """Measure again: the size and read-latency card alone (the page itself without htmx)."""
    view = selectors.feature_view_get(name=name)
    if not request.htmx:
        return redirect(reverse("features:detail", args=[view.name]) + "#online-copy")
    return render(request, "serving/feature_view_detail.html#online-copy",
                  {"view": view, **_names(view), **_health_context(view, fresh=True)})


def feature_view_progress(request: HttpRequest, name: str) -> HttpResponse:
    """The running job's notice, polled by the page; once the job is done the page reloads."""
    view = selectors.feature_view_get(name=name)
    job = selectors.view_active_job(view=view)
    if not request.htmx:
        return redirect("features:detail", name=view.name)
    if job is None:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "serving/feature_view_detail.html#job-notice",
                  {"view": view, "active_job": job, **_names(view)})


@require_POST
def feature_view_materialize(request: HttpRequest, name: str) -> HttpResponse:
    view = selectors.feature_view_get(name=name)
    try:
        job = services.feature_view_materialize(view=view, by=request.user)
    except DomainError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Materialize job #{job.pk} started: it loads the rows of {view.source} newer than "
                                  f"what the view holds into the {TIER_NAMES[view.online_tier]} tier. This page "
                                  "follows it.")
    return redirect("features:detail", name=view.name)


@require_http_methods(["GET", "POST"])
def feature_view_move(request: HttpRequest, name: str) -> HttpResponse:
    """GET explains what a move does and asks to confirm; POST starts it."""
    view = selectors.feature_view_get(name=name)
    can_edit, refusal = permissions.can_edit_feature_view(request.user, view.project)
    if not can_edit:
        raise PermissionDenied(refusal)
    tier = OnlineTier.SQL if view.online_tier == OnlineTier.REDIS else OnlineTier.REDIS
    if request.method == "POST":
        try:
            job = services.feature_view_move(view=view, tier=request.POST.get("tier", tier), by=request.user)
        except DomainError as exc:
            _refuse(exc)
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Move job #{job.pk} started: it copies {view} to the {TIER_NAMES[tier]} tier, "
                                      "checks the counts, switches reads and then deletes the old copy. Reads keep "
                                      "working throughout.")
        return redirect("features:detail", name=view.name)
    return render(request, "serving/feature_move_confirm.html", {
        "view": view, "tier": tier, "tier_name": TIER_NAMES[tier], "from_name": TIER_NAMES[view.online_tier],
        "tier_words": TIER_WORDS[tier], "active_job": selectors.view_active_job(view=view),
    })


# --- the form ---------------------------------------------------------------------------------

def _form_context(form: FeatureViewForm, *, view: FeatureView | None, projects, datasets) -> dict:
    groups: dict = {}
    for dataset in datasets:
        groups.setdefault(dataset.project_id, (dataset.project, []))[1].append(dataset)
    shared = groups.pop(None, (None, []))[1]
    chosen = form["source"].value()
    source = next((d for d in datasets if str(d.pk) == str(chosen)), None)
    return {
        "form": form, "view": view, "projects": projects, "shared_datasets": shared,
        "project_datasets": sorted(groups.values(), key=lambda g: g[0].title),
        "tier_words": TIER_WORDS, "source": source, "columns": _columns(source),
    }


def _columns(dataset) -> list[dict]:
    if dataset is None:
        return []
    return [{"name": c["name"], "kind": c.get("kind", ""), "type": type_of_column(c)} for c in dataset.schema]


def _show_refusal(form: FeatureViewForm, exc: DomainError) -> None:
    field = exc.details.get("field")
    field = {"ttl_seconds": "ttl"}.get(field, field)
    form.add_error(field if field in form.fields else None, exc.message)


@require_http_methods(["GET", "POST"])
def feature_view_new(request: HttpRequest) -> HttpResponse:
    projects = selectors.projects_editable(user=request.user)
    if not projects.exists():
        raise PermissionDenied("Only the technical lead and the team of a project define its feature views, and you "
                               "are on no project's team.")
    datasets = list(selectors.source_datasets(projects=projects))
    initial = {}
    if request.GET.get("project"):
        initial["project"] = request.GET["project"]
    form = FeatureViewForm(request.POST or None, initial=initial, projects=projects, datasets=datasets)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                view = services.feature_view_create(
                    by=request.user, project=data["project"], name=data["name"], entity_key=data["entity_key"],
                    features=data["features"], source=data["source"], event_time_column=data["event_time_column"],
                    online_tier=data["online_tier"], ttl_seconds=data["ttl_seconds"], schedule=data["schedule"],
                    description=data["description"])
            except DomainError as exc:
                _refuse(exc)
                _show_refusal(form, exc)
                status = exc.status if exc.status in (400, 409) else 400
            else:
                messages.success(request, f"Feature view {view} is defined. Materialize it to load its values into "
                                          f"the {TIER_NAMES[view.online_tier]} tier.")
                return redirect("features:detail", name=view.name)
        else:
            status = 400
    return render(request, "serving/feature_view_form.html",
                  _form_context(form, view=None, projects=projects, datasets=datasets), status=status)


@require_http_methods(["GET", "POST"])
def feature_view_edit(request: HttpRequest, name: str) -> HttpResponse:
    view = selectors.feature_view_get(name=name)
    can_edit, refusal = permissions.can_edit_feature_view(request.user, view.project)
    if not can_edit:
        raise PermissionDenied(refusal)
    datasets = list(selectors.source_datasets(projects=[view.project]))
    ttl, unit = ttl_split(view.ttl_seconds)
    initial = {"source": view.source_id, "entity_key": view.entity_key, "event_time_column": view.event_time_column,
               "features": feature_lines(view.features), "ttl": ttl or "", "ttl_unit": unit if ttl else "days",
               "schedule": view.schedule, "description": view.description}
    form = FeatureViewForm(request.POST or None, initial=initial, datasets=datasets, editing=True)
    status = 200
    clears = []
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            changes = {"source": data["source"], "entity_key": data["entity_key"].strip(),
                       "event_time_column": data["event_time_column"], "features": data["features"],
                       "ttl_seconds": data["ttl_seconds"], "schedule": data["schedule"],
                       "description": data["description"]}
            clears = [f for f in LAYOUT_FIELDS if changes[f] != getattr(view, f)]
            if clears and view.materialized_until is not None and request.POST.get("confirm_clear") != "yes":
                # Values stored in the old layout cannot be read in the new one: say so before.
                status = 409
            else:
                try:
                    view = services.feature_view_update(view=view, by=request.user, **changes)
                except DomainError as exc:
                    _refuse(exc)
                    _show_refusal(form, exc)
                    status = exc.status if exc.status in (400, 409) else 400
                else:
                    messages.success(request, f"{view} is saved." + (" Its online values were cleared: materialize "
                                                                      "it to load them again." if clears else ""))
                    return redirect("features:detail", name=view.name)
        else:
            status = 400
    context = _form_context(form, view=view, projects=None, datasets=datasets)
    context["confirm_clear"] = status == 409 and bool(clears)
    context["clears"] = [{"source": "source dataset", "entity_key": "entity key", "features": "features",
                          "event_time_column": "event time column"}[f] for f in clears]
    return render(request, "serving/feature_view_form.html", context, status=status)


def feature_source_columns(request: HttpRequest) -> HttpResponse:
    """The chosen dataset's columns, under the source picker: to name the key, time and features."""
    projects = selectors.projects_editable(user=request.user)
    datasets = list(selectors.source_datasets(projects=projects))
    chosen = request.GET.get("source", "")
    source = next((d for d in datasets if str(d.pk) == chosen), None)
    return render(request, "serving/_feature_source_columns.html", {"source": source, "columns": _columns(source)})
