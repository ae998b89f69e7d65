"""Pages of the serving side: every deployment, one endpoint, and a version's deployments.

Views parse, ask ``serving.permissions`` whether to show an action or its reason, call a
selector or a service and render; the services check everything again.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import numpy as np
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal import history
from portal.errors import DomainError
from portal.redact import redact
from portal.selectors import audit_history_for
from registry.models import ModelVersion
from serving import charts, permissions, selectors, services, stats
from serving.models import EndpointState, RevisionState

PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}
WINDOW_MINUTES = 60


def _figure_html(figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)


def _window():
    now = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return now - dt.timedelta(minutes=WINDOW_MINUTES)


def deployment_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(selectors.endpoint_list())
    start = _window()
    names = [e.name for e in endpoints]
    rows = selectors.traffic_rows(endpoints=names, start=start)
    errors = selectors.error_counts(endpoints=names, start=start)
    series = {}
    for endpoint in endpoints:
        endpoint.summary = stats.summary([lat for _, lat in rows[endpoint.name]], minutes=WINDOW_MINUTES,
                                         errors=errors[endpoint.name])
        if rows[endpoint.name]:
            series[endpoint.name] = stats.per_minute(rows[endpoint.name], start=start, minutes=WINDOW_MINUTES)
    return render(request, "serving/deployment_list.html", {
        "endpoints": endpoints,
        "traffic": _figure_html(charts.traffic_figure(series)) if series else None,
        "plotly_js": static("vendor/plotly/plotly.min.js"),
        "serving_url": settings.SERVING_URL,
    })


def _example_instance(endpoint, feature_views=()) -> dict:
    """A row of the version's data to try: the first preview row with every feature present; with
    feature views, only their entity keys (the serving tier fetches the rest)."""
    live = endpoint.live_revision
    version = live.primary if live is not None else None
    if version is None:
        return {}
    features = [*version.params.get("numeric_features", []), *version.params.get("categorical_features", [])]
    if feature_views:
        features = list(dict.fromkeys(view.entity_key for view in feature_views))
    preview = version.dataset.preview or {}
    columns = preview.get("columns") or []
    rows = [dict(zip(columns, row)) for row in preview.get("rows") or []] or [{}]
    complete = [row for row in rows if all(row.get(name) is not None for name in features)]
    row = (complete or rows)[0]
    return {name: row.get(name) for name in features}


def _comparisons(endpoint, live) -> dict:
    """Shadow agreement with the primary, and canary against primary, over the last hour."""
    if live is None or live.primary is None:
        return {}
    task = live.primary.params.get("task", "regression")
    records = selectors.role_outputs(endpoint=endpoint.name, start=_window())
    primary = {pid: out for pid, role, _, out, _ in records if role == "primary"}
    shadows = []
    for shadow in live.shadows.all():
        pairs = [(primary[pid], out) for pid, role, vid, out, _ in records
                 if role == "shadow" and vid == shadow.pk and pid in primary]
        shadows.append({"version": shadow, **stats.agreement(pairs, task)})
    canary = None
    if live.canary is not None:
        by_role = {"primary": [], "canary": []}
        latency = {"primary": [], "canary": []}
        for _, role, _, out, lat in records:
            if role in by_role:
                value = out if isinstance(out, (int, float)) else (max(out.get("probabilities", {}).values())
                                                                  if isinstance(out, dict) and out.get("probabilities") else None)
                if value is not None:
                    by_role[role].append(float(value))
                latency[role].append(lat)
        canary = {
            "primary": stats.summary(latency["primary"], minutes=WINDOW_MINUTES),
            "canary": stats.summary(latency["canary"], minutes=WINDOW_MINUTES),
            "chart": _figure_html(charts.output_distribution_figure(
                {f"primary v{live.primary.version}": by_role["primary"],
                 f"canary v{live.canary.version}": by_role["canary"]})) if by_role["canary"] else None,
        }
    return {"shadows": shadows, "canary": canary, "task": task}


def endpoint_detail(request: HttpRequest, name: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(name=name)
    live = endpoint.live_revision
    project = endpoint.project
    can, refusal = permissions.can_deploy_now(request.user, project)
    revisions = list(selectors.revision_list(endpoint=endpoint)[:50])
    _revision_history(endpoint, revisions)
    versions = list(ModelVersion.objects.filter(registered_model__project=project)
                    .select_related("registered_model").order_by("registered_model__name", "-version"))
    start = _window()
    rows = selectors.traffic_rows(endpoints=[endpoint.name], start=start)[endpoint.name]
    errors = selectors.error_counts(endpoints=[endpoint.name], start=start)[endpoint.name]
    feature_views = selectors.revision_feature_views([live])[live.pk] if live is not None else []
    example = _example_instance(endpoint, feature_views)
    body = json.dumps({"instances": [example]}, indent=2, default=str) if example else ""
    url = f"{settings.SERVING_URL}/v1/models/{endpoint.name}:predict"
    comparisons = _comparisons(endpoint, live)
    return render(request, "serving/endpoint_detail.html", {
        "endpoint": endpoint, "live": live, "project": project, "proposal": project.proposal,
        "approval": selectors.approval_of(project.proposal),
        "can_deploy": can, "deploy_refusal": refusal,
        "can_undeploy": can or _is_chair(request.user),
        "revisions": revisions,
        # Until its job ends, a change is still rolling out, even once published.
        "pending": next((r for r in revisions if r.state == RevisionState.PENDING
                         or (r.job is not None and not r.job.is_finished)), None),
        "rollback_to": selectors.rollback_target(endpoint=endpoint),
        "versions": versions, "serving_url": url, "v2_url": f"{settings.SERVING_URL}/v2/models/{endpoint.name}/infer",
        "try_body": body, "curl": _curl(url, body), "feature_views": feature_views,
        "summary": stats.summary([lat for _, lat in rows], minutes=WINDOW_MINUTES, errors=errors),
        "traffic": _figure_html(charts.traffic_figure({endpoint.name: stats.per_minute(rows, start=start,
                                                                                       minutes=WINDOW_MINUTES)}))
        if rows else None,
        "comparisons": comparisons,
        "plotly_js": static("vendor/plotly/plotly.min.js"),
        "max_shadows": settings.SERVING_MAX_SHADOWS,
    })


def _revision_history(endpoint, revisions: list) -> None:
    """Each revision's story in sentences, from the endpoint's audit events (one query for all):
    who asked for it and why, and the deploy job that published or refused it."""
    events: dict = {}
    for event in audit_history_for(endpoint, limit=400):
        events.setdefault((event["data"] or {}).get("revision"), []).append(event)
    oldest = min((r.number for r in revisions), default=None)
    for r in revisions:
        # The endpoint's creation belongs to the story of its first revision.
        own = [*(events.get(None, []) if r.number == oldest else []), *events.get(r.number, [])]
        r.history = history.lines(sorted(own, key=lambda e: (e["at"], e["id"])))


def _is_chair(user) -> bool:
    from proposals.permissions import is_chair

    return is_chair(user)


def _curl(url: str, body: str) -> str:
    compact = json.dumps(json.loads(body)) if body else '{"instances": []}'
    return f"curl -s -X POST {url} -H 'Content-Type: application/json' -d '{compact}'"


def _int(value: str | None, field: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise DomainError(f"Choose a {field.replace('_', ' ')}.", field=field) from None


@require_POST
def endpoint_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """One form per action on the endpoint page; each calls its service and says what happens next."""
    post = request.POST
    reason = post.get("reason", "")
    try:
        if action == "deploy":
            result = services.deployment_deploy(name=name, model_version=_int(post.get("model_version"), "model_version"),
                                                reason=reason, by=request.user)
        elif action == "canary":
            result = services.deployment_canary_set(name=name, model_version=_int(post.get("model_version"), "model_version"),
                                                    share=_int(post.get("share"), "share"), reason=reason, by=request.user)
        elif action == "promote":
            result = services.deployment_canary_promote(name=name, reason=reason, by=request.user)
        elif action == "clear-canary":
            result = services.deployment_canary_clear(name=name, reason=reason, by=request.user)
        elif action == "shadow":
            result = services.deployment_shadow_add(name=name, model_version=_int(post.get("model_version"), "model_version"),
                                                    reason=reason, by=request.user)
        elif action == "remove-shadow":
            result = services.deployment_shadow_remove(name=name, model_version=_int(post.get("model_version"), "model_version"),
                                                       reason=reason, by=request.user)
        elif action == "rollback":
            result = services.deployment_rollback(name=name, reason=reason, by=request.user)
        elif action == "undeploy":
            result = services.deployment_undeploy(name=name, reason=reason, by=request.user)
        else:
            return HttpResponse(status=404)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("serving:endpoint_detail", name=name) if selectors.endpoint_list().filter(name=name).exists() \
            else redirect(request.POST.get("back") or "serving:deployments")
    if hasattr(result, "kind"):  # a job: the change goes live once its checks pass
        messages.success(request, f"Deploy job #{result.pk} started: it checks the model against MLflow and goes "
                                  "live when every serving replica has switched. This page follows it.")
    else:
        messages.success(request, f"Revision {result.number} is live.")
    return redirect("serving:endpoint_detail", name=name)


@require_POST
def endpoint_try(request: HttpRequest, name: str) -> HttpResponse:
    """Send the try-it box's body to the serving tier and show its reply."""
    endpoint = selectors.endpoint_get(name=name)
    body = request.POST.get("body", "").encode()
    url = f"{settings.SERVING_URL}/v1/models/{endpoint.name}:predict"
    request_ = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request_, timeout=10) as answer:
            status, text = answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        status, text = 0, redact(f"The serving tier at {settings.SERVING_URL} did not answer: {exc}")
    try:
        text = json.dumps(json.loads(text), indent=2)
    except ValueError:
        pass
    context = {"status": status, "reply": text, "endpoint": endpoint}
    template = "serving/endpoint_detail.html#try-reply" if request.htmx else "serving/try_reply.html"
    return render(request, template, context)


def version_deployments(request: HttpRequest, version_id: int) -> HttpResponse:
    """The Deploy panel of a model version page: where it serves, its history, the deploy form."""
    version = get_object_or_404(ModelVersion.objects.select_related("registered_model__project__proposal"),
                                pk=version_id)
    project = version.registered_model.project
    can, refusal = permissions.can_deploy_now(request.user, project)
    context = {
        "version": version, "project": project, "serving": selectors.endpoints_serving_version(version=version),
        "history": list(selectors.revisions_with_version(version=version)[:20]),
        "endpoints": list(selectors.endpoint_list(project=project)),
        "can_deploy": can, "deploy_refusal": refusal,
    }
    template = "serving/_version_deployments.html" if request.htmx else "serving/version_deployments.html"
    return render(request, template, context)


def deploy_confirm(request: HttpRequest, version_id: int) -> HttpResponse:
    """Deploy a version to a new or existing endpoint, after showing what will change."""
    version = get_object_or_404(ModelVersion.objects.select_related("registered_model__project__proposal"),
                                pk=version_id)
    project = version.registered_model.project
    name = (request.POST.get("endpoint") or request.GET.get("endpoint") or "").strip()
    if name == "__new__":
        name = (request.POST.get("new_name") or request.GET.get("new_name") or "").strip()
    reason = request.POST.get("reason", "")
    existing = selectors.endpoint_list().filter(name=name).first() if name else None
    can, refusal = permissions.can_deploy_now(request.user, project)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            job = services.deployment_deploy(name=name, model_version=version, reason=reason, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Deploying {version} to {name}: job #{job.pk} checks it and publishes it.")
            return redirect("serving:endpoint_detail", name=name)
    try:
        name_error = "" if existing else services.endpoint_name_check(name) and ""
    except DomainError as exc:
        name_error = exc.message
    if existing is not None and existing.project_id != project.pk:
        name_error = f"{name} serves {existing.project}; choose an endpoint of {project} or a new name."
    live = existing.live_revision if existing else None
    return render(request, "serving/deploy_confirm.html", {
        "version": version, "project": project, "name": name, "existing": existing, "live": live,
        "shadows_kept": [s for s in live.shadows.all() if s.pk != version.pk] if live else [],
        "reason": reason, "can_deploy": can, "deploy_refusal": refusal, "name_error": name_error,
    })
