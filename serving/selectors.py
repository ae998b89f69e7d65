"""Reads of the serving side: endpoints, their history, the manifest replicas serve, the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from registry.models import ModelVersion
from serving.models import (Endpoint, EndpointRevision, EndpointState, FeatureView, PredictionRecord,
                            RevisionState)

_VERSION = ("registered_model__project",)


def _revision_related(prefix: str = "") -> list[str]:
    return [f"{prefix}{name}" for name in ("primary__registered_model", "canary__registered_model", "created_by",
                                           "job")]


def endpoint_list(*, project=None) -> QuerySet[Endpoint]:
    qs = Endpoint.objects.select_related(
        "project", *_revision_related("live_revision__"),
    ).prefetch_related(Prefetch("live_revision__shadows", queryset=ModelVersion.objects.select_related(
        "registered_model")), "live_revision__feature_views")
    if project is not None:
        qs = qs.filter(project=project)
    return qs


def endpoint_get(*, name: str) -> Endpoint:
    return get_object_or_404(endpoint_list().select_related("project__proposal", "project__owner"), name=name)


def revision_list(*, endpoint: Endpoint) -> QuerySet[EndpointRevision]:
    """Every revision, newest first, failed attempts included."""
    return (endpoint.revisions.select_related(*_revision_related(), "primary__training_job", "canary__training_job")
            .prefetch_related(Prefetch("shadows", queryset=ModelVersion.objects.select_related("registered_model",
                                                                                                 "training_job")),
                              "feature_views"))


def revision_live_at(*, endpoint: Endpoint, at: dt.datetime) -> EndpointRevision | None:
    """The revision that was live at ``at``: the newest one published by then that went live."""
    return (revision_list(endpoint=endpoint).filter(state=RevisionState.LIVE, published_at__lte=at)
            .order_by("-published_at", "-number").first())


def rollback_target(*, endpoint: Endpoint) -> ModelVersion | None:
    """The version that was primary before the current one: the newest earlier live revision
    whose primary was another version (None when there is none)."""
    live = endpoint.live_revision
    if live is None or live.primary_id is None:
        return None
    earlier = (endpoint.revisions.filter(state=RevisionState.LIVE, published_at__isnull=False, number__lt=live.number)
               .exclude(primary__isnull=True).exclude(primary_id=live.primary_id)
               .select_related("primary__registered_model").order_by("-number").first())
    return earlier.primary if earlier else None


def endpoints_serving_version(*, version: ModelVersion) -> list[dict[str, Any]]:
    """Where ``version`` serves now, and in which role."""
    found = []
    for endpoint in endpoint_list().filter(state=EndpointState.SERVING):
        live = endpoint.live_revision
        if live is None:
            continue
        if live.primary_id == version.pk:
            found.append({"endpoint": endpoint, "role": "primary", "share": 100 - (live.canary_share if live.canary_id else 0)})
        if live.canary_id == version.pk:
            found.append({"endpoint": endpoint, "role": "canary", "share": live.canary_share})
        if any(s.pk == version.pk for s in live.shadows.all()):
            found.append({"endpoint": endpoint, "role": "shadow", "share": 0})
    return found


def revisions_with_version(*, version: ModelVersion) -> QuerySet[EndpointRevision]:
    """The deployment history of one version: every revision that named it."""
    from django.db.models import Q

    return (EndpointRevision.objects.filter(Q(primary=version) | Q(canary=version) | Q(shadows=version))
            .distinct().select_related("endpoint", "created_by", "job").order_by("-created_at", "-number"))


def approval_of(proposal) -> dict[str, Any]:
    """The decision that approved a proposal: the Council vote (tally, meeting) or the chair's."""
    from proposals.models import AgendaItem, ChairDecision, VoteOutcome

    decision = ChairDecision.objects.filter(proposal=proposal).select_related("chair").first()
    if decision is not None:
        return {"kind": "chair_decision", "decision": decision.decision, "by": decision.chair.username,
                "rationale": decision.rationale, "at": decision.created_at}
    item = (AgendaItem.objects.filter(proposal=proposal, outcome=VoteOutcome.APPROVED).select_related("meeting")
            .order_by("-closed_at").first())
    if item is not None:
        return {"kind": "council_vote", "tally": item.tally, "at": item.closed_at,
                "meeting": {"id": item.meeting_id, "scheduled_for": item.meeting.scheduled_for}}
    return {"kind": "none"}


def version_spec(version: ModelVersion, checks: dict | None = None) -> dict[str, Any]:
    """What the serving runtime needs to load a version."""
    params = version.params or {}
    name = version.registered_model.name
    check = (checks or {}).get(str(version.pk)) or {}
    return {"model_version_id": version.pk, "model": name, "version": version.version,
            "model_uri": f"models:/{name}/{version.version}", "run_id": version.mlflow_run_id,
            "task": params.get("task", ""), "framework": params.get("framework", ""),
            "fast_path": bool(check.get("fast_path"))}


def _trained_view_ids(revision: EndpointRevision) -> list[int]:
    """The feature views the primary was trained from, as its training set recorded them."""
    primary = revision.primary
    if primary is None or primary.dataset_id is None:
        return []
    lineage = primary.dataset.lineage or {}
    if lineage.get("kind") != "training_set":
        return []
    ids = []
    for entry in lineage.get("views") or ():
        view_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(view_id, int) and not isinstance(view_id, bool) and view_id not in ids:
            ids.append(view_id)
    return ids


def revision_feature_views(revisions: list[EndpointRevision]) -> dict[int, list[FeatureView]]:
    """Per revision, the feature views its requests read: those named at deploy, else those the
    primary was trained from (a view deleted since is left out). Each as it is now, so a tier
    move reaches the replicas without a new revision."""
    named = {r.pk: list(r.feature_views.all()) for r in revisions}
    trained = {r.pk: _trained_view_ids(r) for r in revisions if not named[r.pk]}
    wanted = {view_id for ids in trained.values() for view_id in ids}
    found = FeatureView.objects.in_bulk(wanted) if wanted else {}
    for pk, ids in trained.items():
        named[pk] = [found[view_id] for view_id in ids if view_id in found]
    return named


def revision_spec(revision: EndpointRevision, feature_views: list[FeatureView] | None = None) -> dict[str, Any]:
    checks = revision.checks or {}
    if feature_views is None:
        feature_views = revision_feature_views([revision])[revision.pk]
    return {
        "revision": revision.number,
        "primary": version_spec(revision.primary, checks) if revision.primary else None,
        "canary": ({**version_spec(revision.canary, checks), "share": revision.canary_share}
                   if revision.canary else None),
        "shadows": [version_spec(v, checks) for v in revision.shadows.all()],
        "feature_views": [view.spec().as_dict() for view in feature_views],
    }


def serving_manifest() -> dict[str, Any]:
    """Every endpoint's live revision, as the serving replicas load it."""
    live = [endpoint for endpoint in (endpoint_list().filter(state=EndpointState.SERVING, live_revision__isnull=False)
                                      .select_related("live_revision__primary__dataset"))
            if endpoint.live_revision.primary_id is not None]
    views = revision_feature_views([endpoint.live_revision for endpoint in live])
    return {"endpoints": {endpoint.name: revision_spec(endpoint.live_revision, views[endpoint.live_revision.pk])
                          for endpoint in live}}


def prediction_list(*, endpoint: str, start: dt.datetime, end: dt.datetime, role: str | None = None,
                    model_version_id: int | None = None) -> QuerySet[PredictionRecord]:
    """The one read of raw logged predictions, by endpoint and time window (end exclusive)."""
    qs = PredictionRecord.objects.filter(endpoint=endpoint, at__gte=start, at__lt=end)
    if role:
        qs = qs.filter(role=role)
    if model_version_id is not None:
        qs = qs.filter(model_version_id=model_version_id)
    return qs


# --- traffic ---------------------------------------------------------------------------------

# Pages read at most this many recent rows per window: enough for rates and percentiles, bounded
# whatever the traffic (aggregates per window replace this once the log outgrows one database).
TRAFFIC_ROWS = 50_000


def traffic_rows(*, endpoints: list[str], start: dt.datetime) -> dict[str, list[tuple[dt.datetime, float]]]:
    """(time, latency) of the answers (primary and canary) each endpoint gave since ``start``."""
    rows: dict[str, list] = {name: [] for name in endpoints}
    qs = (PredictionRecord.objects.filter(endpoint__in=endpoints, at__gte=start, role__in=["primary", "canary"])
          .order_by("-at").values_list("endpoint", "at", "latency_ms")[:TRAFFIC_ROWS])
    for name, at, latency in qs:
        rows[name].append((at, latency))
    return rows


def error_counts(*, endpoints: list[str], start: dt.datetime) -> dict[str, int]:
    """Errors each endpoint answered since ``start``, as the serving replicas count them per minute."""
    from serving import transport
    from serving.runtime import control

    counts = {name: 0 for name in endpoints}
    try:
        client = transport.client()
        for name in endpoints:
            counts[name] = control.errors_since(client, name, start.timestamp())
    except Exception:  # a page still renders when Redis is away; the count says 0
        pass
    return counts


def role_outputs(*, endpoint: str, start: dt.datetime, limit: int = 20_000) -> list[tuple[str, str, int, Any, float]]:
    """(prediction id, role, version id, output, latency) of an endpoint's recent predictions."""
    return list(PredictionRecord.objects.filter(endpoint=endpoint, at__gte=start).order_by("-at")
                .values_list("prediction_id", "role", "model_version_id", "output", "latency_ms")[:limit])


def prediction_versions(*, prediction_ids: list[str], chunk: int = 2000) -> dict[str, tuple[str, int]]:
    """prediction id -> (endpoint, version id) of the answer given (primary or canary, not shadow)."""
    found: dict[str, tuple[str, int]] = {}
    for i in range(0, len(prediction_ids), chunk):
        rows = (PredictionRecord.objects.filter(prediction_id__in=prediction_ids[i:i + chunk])
                .exclude(role="shadow").values_list("prediction_id", "endpoint", "model_version_id"))
        for prediction_id, endpoint, version_id in rows:
            found[prediction_id] = (endpoint, version_id)
    return found
