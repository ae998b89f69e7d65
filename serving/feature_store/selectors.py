"""Reading feature views: lists for the pages, one entity's current values, and how big, fresh
and fast a view's online copy is right now.

Anything that reads a tier answers with ``error`` in words when the tier cannot be reached; a
page showing a view never fails because its tier is down.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import numpy as np
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.redact import redact
from serving.feature_store.spec import entity_text
from serving.models import FeatureView

LATENCY_READS = 200
JOB_KINDS = ("feature_materialize", "feature_move")
TIER_NAMES = {"redis": "Redis", "sql": "SQL"}


def feature_view_list(*, project=None, query: str = "") -> QuerySet[FeatureView]:
    """Views by name; ``query`` finds a name, description, entity key or project title."""
    qs = FeatureView.objects.select_related("project", "source")
    if project is not None:
        qs = qs.filter(project=project)
    text = (query or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(description__icontains=text) | Q(entity_key__icontains=text)
                       | Q(project__title__icontains=text))
    return qs.order_by("name")


def feature_view_get(*, name: str) -> FeatureView:
    return get_object_or_404(FeatureView.objects.select_related("project", "source", "created_by"), name=name)


def projects_editable(*, user):
    """The projects whose feature views ``user`` may define (``can_edit_feature_view`` holds)."""
    from registry.selectors import project_list_trainable

    if not (user and user.is_authenticated):
        from registry.models import MLProject

        return MLProject.objects.none()
    return project_list_trainable(user=user)


def source_datasets(*, projects) -> QuerySet:
    """Datasets a view of one of ``projects`` may read: theirs, and the shared ones."""
    from registry.models import Dataset

    return (Dataset.objects.filter(Q(project__isnull=True) | Q(project__in=projects))
            .select_related("project").order_by("name", "-created_at"))


def view_jobs(*, view: FeatureView, limit: int = 10) -> list:
    """The view's latest materialize and move jobs, newest first."""
    from workers.selectors import job_list

    return list(job_list().for_object(view).filter(kind__in=JOB_KINDS)[:limit])


def view_active_job(*, view: FeatureView):
    from workers.selectors import job_list

    return job_list().for_object(view).filter(kind__in=JOB_KINDS).active().first()


def _tier_error(view: FeatureView, exc: Exception) -> str:
    from serving.feature_store import redis as redis_tier
    from serving.feature_store import sql as sql_tier

    detail = redact(str(exc) or exc.__class__.__name__)
    if isinstance(exc, (redis_tier.Unavailable, sql_tier.Unavailable)):  # already said in words
        return detail[:1].upper() + detail[1:]
    return f"The {TIER_NAMES.get(view.online_tier, view.online_tier)} tier could not be read: {detail}"


def _candidates(entity: str) -> list[str]:
    """The entity as typed, and its number form when it is one (a view keyed by numbers stores
    42.0 as 42)."""
    text = entity_text(entity.strip())
    found = [text]
    try:
        number = float(text)
    except ValueError:
        return found
    if np.isfinite(number) and number.is_integer():
        alternative = entity_text(number)
        if alternative != text:
            found.append(alternative)
    return found


def view_lookup(*, view: FeatureView, entity: str) -> dict[str, Any]:
    """One entity's current values in the view's tier: ``found``, ``values`` as (feature, type,
    value) with None for a missing value, ``event_time`` and ``age`` (seconds), ``tier`` and
    ``error`` (words, when the tier could not be read)."""
    from serving.feature_store.tiers import tier

    result: dict[str, Any] = {"entity": entity.strip(), "found": False, "values": [], "event_time": None,
                              "age": None, "expires_at": None, "tier": view.online_tier, "error": ""}
    spec = view.spec()
    candidates = _candidates(entity)
    try:
        (found,) = tier(view.online_tier).read([(spec, candidates)])
    except Exception as exc:  # a tier that is down is news for the page, not a failure of it
        result["error"] = _tier_error(view, exc)
        return result
    record = next((r for r in found if r is not None), None)
    if record is None:
        return result
    values, event_time = record
    result.update(found=True, values=[(name, kind, value) for (name, kind), value in zip(spec.features, values)],
                  event_time=dt.datetime.fromtimestamp(event_time, tz=dt.timezone.utc),
                  age=max(time.time() - event_time, 0.0))
    expires = spec.expires_at(event_time)
    if expires is not None:
        result["expires_at"] = dt.datetime.fromtimestamp(expires, tz=dt.timezone.utc)
    return result


def view_health(*, view: FeatureView, reads: int = LATENCY_READS) -> dict[str, Any]:
    """What the view's online copy holds and how fast it answers, measured now: entities, bytes
    (memory on Redis, rows on SQL), and the latency of up to ``reads`` single-entity reads of
    stored entities through the tier's read API, from this process."""
    from serving.feature_store.tiers import tier

    health: dict[str, Any] = {
        "tier": view.online_tier, "entities": None, "bytes": None, "bytes_per_entity": None, "table_bytes": None,
        "latency_ms": {"p50": None, "p95": None, "p99": None, "reads": 0},
        "event_time_lag_seconds": (max(time.time() - view.materialized_until, 0.0)
                                   if view.materialized_until is not None else None),
        "last_materialized_at": view.last_materialized_at, "measured_at": timezone.now(), "error": "",
    }
    spec = view.spec()
    try:
        handle = tier(view.online_tier)
        size = handle.size(spec)
        health.update({k: size.get(k) for k in ("entities", "bytes", "bytes_per_entity", "table_bytes")})
        sample = [entity for entity, _, _ in itertools.islice(handle.records(spec), reads)]
        timings = []
        for entity in sample:
            started = time.perf_counter()
            handle.read([(spec, [entity])])
            timings.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # a tier that is down is news for the page, not a failure of it
        health["error"] = _tier_error(view, exc)
        return health
    if timings:
        p50, p95, p99 = np.percentile(timings, [50, 95, 99])
        health["latency_ms"] = {"p50": float(p50), "p95": float(p95), "p99": float(p99), "reads": len(timings)}
    return health


HEALTH_KEPT_SECONDS = 60


def view_health_kept(*, view: FeatureView, fresh: bool = False) -> dict[str, Any]:
    """``view_health``, measured at most once a minute per view and tier (counting a Redis tier
    scans its keys); ``fresh`` measures now. A kept measure says so (``cached``)."""
    from django.core.cache import cache

    key = f"feature-health:{view.pk}:{view.online_tier}:{view.materialized_until}"
    if not fresh:
        kept = cache.get(key)
        if kept is not None:
            return {**kept, "cached": True}
    health = view_health(view=view)
    if not health["error"]:
        cache.set(key, health, HEALTH_KEPT_SECONDS)
    return {**health, "cached": False}
