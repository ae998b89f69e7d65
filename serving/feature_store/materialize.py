"""The materialization job: the latest value per entity from the view's source into its online
tier, incrementally by event time.

Only rows newer than the view's high-water mark are read into the tier, so a re-run with nothing
new changes nothing. A row whose values do not match their types (a word in a number column, 2.5
for an int, an event time that is not a time, no entity) is rejected, counted and shown with
examples in the job log; the good rows still load. Values are written in batches with progress.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from serving.feature_store.columns import coerce_column, entity_keys, epoch_seconds, python_values, utc_times

EXAMPLES = 5


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).isoformat(timespec="seconds")


def newest_source(view):
    """New data arrives as a newer file of the source's name in the same project (or shared, as
    the source is): the newest one is read, and only its rows newer than the high-water mark load."""
    from registry.models import Dataset

    return (Dataset.objects.filter(name=view.source.name, project_id=view.source.project_id)
            .order_by("-created_at", "-id").first() or view.source)


def materialize_run(job) -> dict[str, Any]:
    from registry.selectors import dataset_frame
    from serving.feature_store.tiers import tier
    from serving.models import FeatureView

    view = FeatureView.objects.select_related("source", "project").filter(pk=job.params["view_id"]).first()
    if view is None:
        raise DomainError("The feature view was deleted before its materialization ran.")
    if view.moving_to:
        raise DomainError(f"{view} is moving to the {view.moving_to} tier; materialize it when the move is done.")
    spec = view.spec()
    source = newest_source(view)
    job.progress(2, f"Reading {source}")
    if source.pk != view.source_id:
        job.log(f"Reading {source}, the newest file of {source.name!r} (the view was defined on {view.source}).")
    frame = dataset_frame(dataset=source)
    missing = [c for c in (view.entity_key, view.event_time_column, *view.feature_names) if c not in frame.columns]
    if missing:
        raise DomainError(f"{source} has no column {', '.join(repr(c) for c in missing)}; change the view's "
                          "source or its features.")
    times = epoch_seconds(utc_times(frame[view.event_time_column]))
    watermark = view.materialized_until
    bad_time = np.isnan(times)
    # Rows whose time cannot be read are counted by the first run that meets them.
    newer = ~bad_time & (times > watermark) if watermark is not None else ~bad_time
    rejected: dict[int, str] = {}
    if watermark is None:
        for position in np.flatnonzero(bad_time)[:EXAMPLES].tolist():
            rejected[position] = f"event time {frame[view.event_time_column].iloc[position]!r} is not a time"
        rejected_count = int(bad_time.sum())
    else:
        rejected_count = 0
    candidates = np.flatnonzero(newer)
    job.log(f"{len(frame):,} rows in {source}; {len(candidates):,} newer than {_when(watermark)}.")
    if len(candidates) == 0 and not rejected_count:
        job.log("Nothing new since the last materialization; the online values are unchanged.")
        FeatureView.objects.filter(pk=view.pk).update(last_materialized_at=timezone.now())
        return {"view": view.name, "tier": view.online_tier, "loaded": 0, "rejected": 0,
                "materialized_until": watermark, "nothing_new": True}
    part = frame.iloc[candidates].reset_index(drop=True)
    part_times = times[candidates]
    keys = entity_keys(part[view.entity_key])
    good = keys.notna().to_numpy().copy()
    for position in np.flatnonzero(~good)[:EXAMPLES].tolist():
        rejected.setdefault(int(candidates[position]), f"{view.entity_key}: no entity key")
    columns = []
    for name, kind in spec.features:
        values, bad, examples = coerce_column(part[name], kind, examples=EXAMPLES)
        columns.append(python_values(values))
        good &= ~bad
        for position, reason in examples:
            rejected.setdefault(int(candidates[position]), f"{name}: {reason}")
    rejected_count += int((~good).sum())
    entities = keys.tolist()
    # The latest good row per entity.
    latest: dict[str, tuple[float, int]] = {}
    for position in np.flatnonzero(good).tolist():
        key = entities[position]
        when = float(part_times[position])
        found = latest.get(key)
        if found is None or when >= found[0]:
            latest[key] = (when, position)
    job.log(f"{len(latest):,} entities to load into the {view.get_online_tier_display()} tier; "
            f"{rejected_count:,} rows rejected.")
    examples = sorted(rejected.items())[:EXAMPLES]
    if rejected_count:
        job.log("Rejected rows (row number in the file: why): "
                + "; ".join(f"row {position + 1}: {reason}" for position, reason in examples)
                + (f"; and {rejected_count - len(examples):,} more." if rejected_count > len(examples) else "."))
    store = tier(view.online_tier)
    codec = spec.codec
    batch = max(1, settings.FEATURE_MATERIALIZE_BATCH)
    items = list(latest.items())
    loaded = 0
    for start in range(0, len(items), batch):
        job.check_cancelled()
        records = []
        for key, (when, position) in items[start:start + batch]:
            records.append((key, codec.pack([column[position] for column in columns], when), when))
        loaded += store.write(spec, records)
        done = min(start + batch, len(items))
        job.progress(5 + 90 * done / max(len(items), 1), f"{done:,} of {len(items):,} entities written")
    expired = len(items) - loaded
    if expired:
        job.log(f"{expired:,} entities' newest values are older than the time to live "
                f"({view.ttl_seconds:,} s) and were not loaded.")
    high = float(times[newer].max()) if newer.any() else None
    new_watermark = max((x for x in (watermark, high) if x is not None), default=None)
    size = {}
    try:
        size = store.size(spec)
    except Exception as exc:
        job.log(f"The tier's size could not be measured: {exc}")
    stats = {
        **size, "loaded": loaded, "rejected": rejected_count, "expired": expired,
        "rejected_examples": [{"row": p + 1, "reason": r} for p, r in examples],
        "job": getattr(job, "job_id", None), "source_read": source.pk, "tier": view.online_tier,
    }
    with transaction.atomic():
        FeatureView.objects.filter(pk=view.pk).update(materialized_until=new_watermark,
                                                      last_materialized_at=timezone.now(), stats=stats)
    job.log(f"Loaded {loaded:,} entities; the view now holds values up to {_when(new_watermark)}.")
    return {"view": view.name, "tier": view.online_tier, "loaded": loaded, "rejected": rejected_count,
            "expired": expired, "materialized_until": new_watermark, "entities": size.get("entities")}
