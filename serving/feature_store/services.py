"""Defining feature views and starting their jobs: every change authorised, checked against the
source dataset, and audited."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError, Forbidden
from portal.models import User
from portal.services import audit_record
from registry.models import Dataset, MLProject
from serving.feature_store.spec import TYPES
from serving.models import FeatureView, OnlineTier
from serving.permissions import can_edit_feature_view

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MAX_FEATURES = 500
RESERVED_NAMES = {"new", "training-sets"}  # /features/new/ and /features/training-sets/new/ are pages
MAX_TTL_SECONDS = 10 * 365 * 86400
ACTIVE = ("queued", "running")
# What changes the stored layout: values stored before it cannot be read after it.
LAYOUT_FIELDS = ("entity_key", "features", "source", "event_time_column")


def _conflict(message: str, **details) -> DomainError:
    return DomainError(message, status=409, **details)


def _require_edit(by: User, project: MLProject) -> None:
    ok, reason = can_edit_feature_view(by, project)
    if not ok:
        raise Forbidden(reason)


def _features_check(features: Any, source: Dataset, entity_key: str, event_time_column: str) -> list[dict]:
    if not isinstance(features, list) or not features:
        raise DomainError("List at least one feature: [{\"name\": ..., \"type\": ...}].", field="features")
    if len(features) > MAX_FEATURES:
        raise DomainError(f"{len(features)} features in one view; at most {MAX_FEATURES}.", field="features")
    columns = set(source.columns)
    clean, seen = [], set()
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str) or not feature["name"].strip():
            raise DomainError(f"Feature {i + 1} needs a name and a type.", field="features")
        name, kind = feature["name"].strip(), feature.get("type")
        if kind not in TYPES:
            raise DomainError(f"Feature {name!r} has an unknown type {kind!r}; the types are {', '.join(TYPES)}.",
                              field="features")
        if name in seen:
            raise DomainError(f"Feature {name!r} is listed twice.", field="features")
        if name not in columns:
            raise DomainError(f"Feature {name!r} is not a column of {source}; its columns are "
                              f"{', '.join(sorted(columns))}.", field="features")
        if name in (entity_key, event_time_column):
            raise DomainError(f"{name!r} is the entity key or the event time, not a feature.", field="features")
        seen.add(name)
        clean.append({"name": name, "type": kind})
    return clean


def _source_check(source: Dataset, project: MLProject, entity_key: str, event_time_column: str) -> None:
    if source.project_id is not None and source.project_id != project.pk:
        raise DomainError(f"{source} belongs to another project; a view reads its own project's datasets or "
                          "shared ones.", field="source")
    columns = set(source.columns)
    if not entity_key or entity_key not in columns:
        raise DomainError(f"The entity key {entity_key!r} is not a column of {source}; its columns are "
                          f"{', '.join(sorted(columns))}.", field="entity_key")
    if not event_time_column or event_time_column not in columns:
        raise DomainError(f"The event time column {event_time_column!r} is not a column of {source}.",
                          field="source")
    kind = (source.column(event_time_column) or {}).get("kind")
    if kind not in ("datetime", "numeric", "categorical"):
        raise DomainError(f"The event time column {event_time_column!r} holds {kind} values, not times.",
                          field="source")


def _ttl_check(ttl: Any) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS:
        raise DomainError(f"ttl_seconds is a whole number of seconds from 0 (never expires) to {MAX_TTL_SECONDS}.",
                          field="ttl_seconds")
    return ttl


def _schedule_check(schedule: str) -> str:
    from workers.services import schedule_check

    return schedule_check(schedule) if (schedule or "").strip() else ""


def _schedule_name(view: FeatureView) -> str:
    return f"materialize:{view.pk}"


def _schedule_sync(view: FeatureView, by: User | None) -> None:
    from workers import services as job_services
    from workers.selectors import schedule_get

    name = _schedule_name(view)
    if not view.schedule:
        if schedule_get(name=name) is not None:
            job_services.schedule_stop(name=name, by=by)
        return
    job_services.schedule_set(name=name, kind="feature_materialize", cron=view.schedule,
                              params={"view_id": view.pk}, obj=view, by=by)


def feature_view_create(*, by: User, project: MLProject, name: str, entity_key: str, features: list,
                        source: Dataset, event_time_column: str, online_tier: str = OnlineTier.REDIS,
                        ttl_seconds: int = 0, schedule: str = "", description: str = "") -> FeatureView:
    _require_edit(by, project)
    name = (name or "").strip()
    if not NAME.match(name):
        raise DomainError("A view's name is lower-case letters, digits, - and _ (at most 100), such as "
                          "store_daily_sales.", field="name")
    if name in RESERVED_NAMES:
        raise DomainError(f"{name!r} names a page of the portal; choose another name.", field="name")
    if FeatureView.objects.filter(name=name).exists():
        raise DomainError(f"There is already a feature view named {name!r}.", status=409, field="name")
    if online_tier not in OnlineTier.values:
        raise DomainError(f"online_tier is redis or sql, not {online_tier!r}.", field="online_tier")
    entity_key = (entity_key or "").strip()
    _source_check(source, project, entity_key, event_time_column)
    features = _features_check(features, source, entity_key, event_time_column)
    ttl_seconds = _ttl_check(ttl_seconds)
    schedule = _schedule_check(schedule)
    with transaction.atomic():
        view = FeatureView.objects.create(
            project=project, name=name, description=(description or "")[:4000], entity_key=entity_key,
            features=features, source=source, event_time_column=event_time_column, online_tier=online_tier,
            ttl_seconds=ttl_seconds, schedule=schedule, created_by=by)
        audit_record(actor=by, verb="feature_view.created", obj=view, to_state=online_tier,
                     data={"project": project.name, "features": len(features), "source": source.pk})
        _schedule_sync(view, by)
    return view


def feature_view_update(*, view: FeatureView, by: User, **changes) -> FeatureView:
    """Change a view. A change of layout (entity key, features, source, event time) clears its
    online values and its high-water mark: materialize it again."""
    _require_edit(by, view.project)
    allowed = {"description", "entity_key", "features", "source", "event_time_column", "ttl_seconds", "schedule"}
    if "online_tier" in changes and changes["online_tier"] != view.online_tier:
        raise DomainError("Moving a view to the other tier is a job: POST .../move/ with {\"tier\": ...}.",
                          status=409, field="online_tier")
    changes.pop("online_tier", None)
    if "name" in changes and changes["name"] != view.name:
        raise DomainError("A view keeps its name: models and training sets refer to it.", field="name")
    changes.pop("name", None)
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        view = FeatureView.objects.select_for_update().select_related("project", "source").get(pk=view.pk)
        if view.moving_to:
            raise _conflict(f"{view} is moving to the {view.moving_to} tier; change it when the move is done.")
        before = {f: getattr(view, f) for f in allowed}
        source = changes.get("source", view.source)
        entity_key = (changes.get("entity_key", view.entity_key) or "").strip()
        event_time_column = changes.get("event_time_column", view.event_time_column)
        _source_check(source, view.project, entity_key, event_time_column)
        features = _features_check(changes.get("features", view.features), source, entity_key, event_time_column)
        view.source, view.entity_key, view.event_time_column, view.features = source, entity_key, event_time_column, features
        if "ttl_seconds" in changes:
            view.ttl_seconds = _ttl_check(changes["ttl_seconds"])
        if "schedule" in changes:
            view.schedule = _schedule_check(changes["schedule"])
        if "description" in changes:
            view.description = (changes["description"] or "")[:4000]
        changed = [f for f in allowed if getattr(view, f) != before[f]]
        if not changed:
            return view
        layout = [f for f in changed if f in LAYOUT_FIELDS]
        if layout:
            view.materialized_until = None
            view.stats = {}
        view.updated_at = timezone.now()
        view.save()
        audit_record(actor=by, verb="feature_view.changed", obj=view,
                     data={"changed": sorted(changed), "cleared": bool(layout)})
        if "schedule" in changed:
            _schedule_sync(view, by)
    if layout:
        from serving.feature_store.tiers import tier

        tier(view.online_tier).delete_view(view.spec())
        _publish()
    elif "ttl_seconds" in changed:
        _publish()
    return view


def _publish() -> None:
    from serving import transport

    transport.change_publish()


def _active_job(view: FeatureView, kinds: tuple[str, ...]):
    from workers.models import Job

    return (Job.objects.filter(kind__in=kinds, object_type=FeatureView._meta.model_name, object_id=str(view.pk),
                               state__in=ACTIVE).order_by("-id").first())


def feature_view_materialize(*, view: FeatureView, by: User | None, scheduled: bool = False):
    """Start loading what is newer than the view's high-water mark into its online tier."""
    from workers.services import job_start

    if not scheduled:
        _require_edit(by, view.project)
    if view.moving_to:
        raise _conflict(f"{view} is moving to the {view.moving_to} tier; materialize it when the move is done.")
    running = _active_job(view, ("feature_materialize", "feature_move"))
    if running is not None:
        raise _conflict(f"Job {running.pk} is already working on {view}; wait for it to finish.", job=running.pk)
    job = job_start(kind="feature_materialize", started_by=by, params={"view_id": view.pk}, obj=view)
    audit_record(actor=by, verb="feature_view.materialize_started", obj=view, data={"job_id": job.pk})
    return job


def feature_view_move(*, view: FeatureView, tier: str, by: User):
    """Start moving the view's online values to the other tier (copy, check, switch, delete)."""
    from workers.services import job_start

    _require_edit(by, view.project)
    if tier not in OnlineTier.values:
        raise DomainError(f"tier is redis or sql, not {tier!r}.", field="tier")
    with transaction.atomic():
        view = FeatureView.objects.select_for_update().get(pk=view.pk)
        if view.online_tier == tier:
            raise _conflict(f"{view} is already on the {tier} tier.")
        if view.moving_to:
            raise _conflict(f"{view} is already moving to the {view.moving_to} tier.")
        running = _active_job(view, ("feature_materialize",))
        if running is not None:
            raise _conflict(f"Job {running.pk} is materializing {view}; move it when that is done.",
                                    job=running.pk)
        view.moving_to = tier
        view.save(update_fields=["moving_to"])
        job = job_start(kind="feature_move", started_by=by, params={"view_id": view.pk, "tier": tier}, obj=view)
        audit_record(actor=by, verb="feature_view.move_started", obj=view, from_state=view.online_tier,
                     to_state=tier, data={"job_id": job.pk})
    return job
