"""Training sets: feature values joined onto an entity dataframe as they were at each row's time.

Each entity row (keys, a timestamp, labels) gets, for every view, the latest value whose event
time is at or before the row's time and, for a view with a TTL, still served at that time (its
event time plus the TTL is later than the row's time, as the online store serves it). A value
from after the row's time never reaches it: a model must not learn from what it could not
have known when it predicts.

A training set keeps each feature under its own name, the name the online store serves it by,
so two views with a feature of the same name, or a feature named like a column of the entity
dataset, are refused rather than renamed.

The join (``point_in_time_join``) is pandas only; ``training_set_start`` checks a request and
starts the ``training_set_build`` job, whose handler (``training_set_build_run``) builds the set
and registers it as a dataset with its lineage.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portal.errors import DomainError, Forbidden
from serving.feature_store.columns import coerce_column, entity_keys, utc_times

MAX_VIEWS = 50

_KEY, _TIME, _ROW, _FOUND = "\x00key", "\x00time", "\x00row", "\x00found"


# --- the join (no database) --------------------------------------------------------------

@dataclass(frozen=True)
class ViewSource:
    """A view's rows as its source dataset holds them, and how to read them."""

    name: str
    entity_key: str
    event_time_column: str
    features: tuple[tuple[str, str], ...]
    ttl_seconds: int
    frame: pd.DataFrame = field(repr=False, compare=False)


@dataclass
class ViewCounts:
    """What joining one view found: source rows kept and rejected, entity rows left without a value."""

    name: str
    source_rows: int = 0
    rejected: int = 0
    rejected_example: str = ""
    missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"source_rows": self.source_rows, "rejected": self.rejected, "missing": self.missing}


@dataclass
class JoinResult:
    frame: pd.DataFrame
    views: list[ViewCounts]
    unreadable_times: int  # entity rows whose timestamp is no date or time: no feature values
    cut_off: pd.Timestamp


def view_rows(source: ViewSource) -> tuple[pd.DataFrame, ViewCounts]:
    """The view's source rows as (key, time, features), coerced to the declared types. A row with
    no entity key, no readable event time or a value of another type is dropped and counted."""
    frame = source.frame.reset_index(drop=True)
    counts = ViewCounts(name=source.name, source_rows=len(frame))
    needed = [source.entity_key, source.event_time_column, *(name for name, _ in source.features)]
    absent = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if absent:
        raise DomainError(f"The source dataset of feature view {source.name} has no column "
                          f"{', '.join(repr(c) for c in absent)}.")
    keys = entity_keys(frame[source.entity_key])
    times = utc_times(frame[source.event_time_column])
    keep = (keys.notna() & times.notna()).to_numpy().copy()
    first_bad = int(np.flatnonzero(~keep)[0]) if not keep.all() else None
    if first_bad is not None:
        counts.rejected_example = (f"row {first_bad + 1} has no {source.entity_key} or no readable "
                                   f"{source.event_time_column}")
    columns: dict[str, pd.Series] = {}
    for name, kind in source.features:
        columns[name], bad, examples = coerce_column(frame[name], kind)
        keep &= ~bad
        first = examples[0] if examples else None
        if first is not None and (first_bad is None or first[0] < first_bad):
            first_bad = first[0]
            counts.rejected_example = f"row {first[0] + 1}, {name}: {first[1]}"
    counts.rejected = int((~keep).sum())
    rows = pd.DataFrame({_KEY: keys[keep].reset_index(drop=True).astype(object),
                         _TIME: times[keep].reset_index(drop=True)})
    for name, _ in source.features:
        rows[name] = columns[name][keep].reset_index(drop=True)
    rows[_FOUND] = True
    # Sorted by time, file order kept among equal times: of two values at one instant the later
    # row in the file wins, as it would when materialized.
    return rows.sort_values(_TIME, kind="stable").reset_index(drop=True), counts


def _final(values: pd.Series, kind: str) -> pd.Series:
    """A joined feature column as training code expects it: missing values as NaN (numbers) or
    None (text); whole numbers and booleans keep their type when nothing is missing."""
    if kind == "float":
        return values.astype("float64")
    if kind == "int":
        ints = values.astype("Int64")
        return ints.astype("int64") if not ints.isna().any() else ints.astype("float64")
    if kind == "bool":
        flags = values.astype("boolean")
        return flags.astype(bool) if not flags.isna().any() else flags
    return values.astype(object).where(values.notna(), None)


def point_in_time_join(entities: pd.DataFrame, *, timestamp_column: str, views: list[ViewSource]) -> JoinResult:
    """The entity rows, in their order and with all their columns, plus each view's features as
    they were at the row's ``timestamp_column`` time (within the view's TTL when it has one)."""
    entities = entities.reset_index(drop=True)
    times = utc_times(entities[timestamp_column])
    readable = times.notna()
    if not readable.any():
        raise DomainError(f"The column {timestamp_column} of the entity dataset holds no date or time the "
                          "portal can read (ISO 8601 text, or seconds since 1970).", field="timestamp_column")
    out = entities.copy()
    all_counts = []
    for source in views:
        rows, counts = view_rows(source)
        keys = entity_keys(entities[source.entity_key])
        valid = readable & keys.notna()
        left = pd.DataFrame({_KEY: keys[valid].reset_index(drop=True).astype(object),
                             _TIME: times[valid].reset_index(drop=True),
                             _ROW: np.flatnonzero(valid.to_numpy())}).sort_values(_TIME, kind="stable")
        # A value is served while its event time plus the TTL is later than now: strictly
        # earlier than the TTL, one nanosecond short of merge_asof's inclusive tolerance.
        tolerance = (pd.Timedelta(seconds=source.ttl_seconds) - pd.Timedelta(1, "ns")
                     if source.ttl_seconds else None)
        merged = pd.merge_asof(left, rows, on=_TIME, by=_KEY, direction="backward", allow_exact_matches=True,
                               tolerance=tolerance)
        merged = merged.set_index(_ROW).reindex(range(len(entities)))
        counts.missing = int(merged[_FOUND].isna().sum())
        for name, kind in source.features:
            out[name] = _final(merged[name], kind).set_axis(out.index)
        all_counts.append(counts)
    return JoinResult(frame=out, views=all_counts, unreadable_times=int((~readable).sum()), cut_off=times.max())


# --- requests and the job -------------------------------------------------------------------

def _view_project_choice(entities, views) -> Any:
    """The project a training set belongs to: the entity dataset's, else the one project of the views."""
    if entities.project_id is not None:
        return entities.project
    projects = {view.project_id: view.project for view in views}
    if len(projects) > 1:
        names = ", ".join(sorted(str(p) for p in projects.values()))
        raise DomainError(f"The views belong to several projects ({names}) and the entity dataset {entities.name} to "
                          "none; register the entity dataset for the project the training set is for.",
                          field="entities")
    return next(iter(projects.values()))


def training_set_check(*, entities, views: list, timestamp_column: str) -> None:
    """Everything about a request that needs no reading of rows: the columns named exist in the
    entity dataset and the features have names of their own."""
    columns = entities.columns
    if timestamp_column not in columns:
        raise DomainError(f"The entity dataset {entities.name} has no column {timestamp_column!r}; its columns are "
                          f"{', '.join(columns)}.", field="timestamp_column")
    owner: dict[str, str] = {}
    for view in views:
        if view.entity_key not in columns:
            raise DomainError(f"The entity dataset {entities.name} has no column {view.entity_key!r}, the entity key "
                              f"of feature view {view.name}.", field="views")
        if view.entity_key == timestamp_column:
            raise DomainError(f"The entity key of feature view {view.name} is the timestamp column "
                              f"{timestamp_column!r}; name another timestamp column.", field="timestamp_column")
        for name in view.feature_names:
            if name in columns:
                raise DomainError(f"Feature {name} of view {view.name} has the name of a column of the entity dataset "
                                  f"{entities.name}; rename that column, or leave the view out.", field="views")
            if name in owner:
                raise DomainError(f"Feature views {owner[name]} and {view.name} both have a feature named {name}; "
                                  "a training set takes each feature name once, so leave one of them out.",
                                  field="views")
            owner[name] = view.name


def _resolve(*, entities: Any, views: list) -> tuple[Any, list]:
    from registry.models import Dataset
    from serving.models import FeatureView

    dataset = Dataset.objects.select_related("project").filter(pk=entities).first() \
        if isinstance(entities, int) and not isinstance(entities, bool) else None
    if dataset is None:
        raise DomainError(f"There is no dataset with id {entities}.", field="entities")
    if not views:
        raise DomainError("Name at least one feature view.", field="views")
    if len(views) > MAX_VIEWS:
        raise DomainError(f"A training set joins at most {MAX_VIEWS} feature views.", field="views")
    ids = [v for v in views if isinstance(v, int) and not isinstance(v, bool)]
    found = FeatureView.objects.select_related("project", "source").in_bulk(ids)
    resolved, seen = [], set()
    for value in views:
        view = found.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if view is None:
            raise DomainError(f"There is no feature view with id {value}.", field="views")
        if view.pk in seen:
            raise DomainError(f"Feature view {view.name} is named twice.", field="views")
        seen.add(view.pk)
        resolved.append(view)
    return dataset, resolved


def training_set_start(*, by, entities: int, views: list[int], timestamp_column: str):
    """Check a training set request and start the job that builds it.

    ``entities`` is the id of a dataset holding each view's entity key, ``timestamp_column`` and
    any labels; ``views`` are feature view ids. The training set belongs to the entity dataset's
    project, or to the views' project when the entity dataset is shared; the requester must be
    allowed to add datasets to it (anyone reads views). The finished job's result is
    ``{"dataset": id}``.
    """
    from registry.permissions import can_add_dataset
    from workers.services import job_start

    if by is None or not by.is_authenticated:
        raise Forbidden("Sign in to build a training set.")
    dataset, resolved = _resolve(entities=entities, views=views)
    training_set_check(entities=dataset, views=resolved, timestamp_column=timestamp_column)
    project = _view_project_choice(dataset, resolved)
    allowed, reason = can_add_dataset(by, project)
    if not allowed:
        raise Forbidden(reason)
    params = {"entities": dataset.pk, "views": [view.pk for view in resolved], "timestamp_column": timestamp_column,
              "project_id": project.pk}
    return job_start(kind="training_set_build", started_by=by, params=params, obj=project,
                     message=f"Waiting for a worker to build a training set from {dataset.name}.")


def training_set_name(entities) -> str:
    return f"{entities.name[:200 - len('-training-set')]}-training-set"


def training_set_build_run(job) -> dict[str, Any]:
    """Build a training set (the ``training_set_build`` job): join, write Parquet, register it."""
    from django.conf import settings

    from registry import services as registry_services
    from registry.models import MLProject
    from registry.selectors import dataset_frame

    params = job.params
    entities, views = _resolve(entities=params["entities"], views=list(params["views"]))
    timestamp_column = params["timestamp_column"]
    # The views may have changed since the request: check again before reading anything.
    training_set_check(entities=entities, views=views, timestamp_column=timestamp_column)
    project = MLProject.objects.get(pk=params["project_id"])

    job.progress(5, f"Reading the entity set {entities.name} ({entities.rows:,} rows)")
    frame = dataset_frame(dataset=entities)
    sources = []
    for i, view in enumerate(views):
        job.check_cancelled()
        job.progress(10 + int(50 * i / len(views)), f"Reading the source of {view.name} ({view.source.name})")
        sources.append(ViewSource(name=view.name, entity_key=view.entity_key, event_time_column=view.event_time_column,
                                  features=tuple((f["name"], f["type"]) for f in view.features),
                                  ttl_seconds=view.ttl_seconds, frame=dataset_frame(dataset=view.source)))
    job.progress(60, "Joining each row with the feature values of its time")
    result = point_in_time_join(frame, timestamp_column=timestamp_column, views=sources)
    rows = len(result.frame)
    job.log(f"{rows:,} entity rows; cut-off {result.cut_off.isoformat()}.")
    if result.unreadable_times:
        job.log(f"{result.unreadable_times:,} entity rows have no readable {timestamp_column}: "
                "they get no feature values.")
    for counts in result.views:
        line = (f"{counts.name}: {counts.source_rows:,} source rows, {counts.rejected:,} rejected; "
                f"{counts.missing:,} of {rows:,} entity rows have no value.")
        if counts.rejected_example:
            line += f" First rejected: {counts.rejected_example}."
        job.log(line)
    job.check_cancelled()

    lineage = {
        "kind": "training_set",
        "views": [{"id": view.pk, "name": view.name, "entity_key": view.entity_key, "features": list(view.features),
                   "ttl_seconds": view.ttl_seconds, "source": view.source_id, **counts.as_dict()}
                  for view, counts in zip(views, result.views)],
        "entities": entities.pk,
        "entities_name": entities.name,
        "timestamp_column": timestamp_column,
        "cut_off": result.cut_off.isoformat(),
        "rows": rows,
        "job": job.job.pk,
    }
    name = training_set_name(entities)
    job.progress(80, f"Registering {name}")
    # Written inside the data folder: registering reads a file from there, as for any file named by path.
    folder = Path(settings.DATASETS_FOLDER) / "incoming" / f"training-set-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = folder / f"{name}.parquet"
        result.frame.to_parquet(path, index=False)
        dataset = registry_services.dataset_register(name=name, by=job.job.started_by, path=path, project=project,
                                                     lineage=lineage)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if dataset.lineage.get("job") != job.job.pk:
        job.log(f"The same rows are already registered as {dataset.name} (#{dataset.pk}); that dataset is the result.")
    job.log(f"Training set {dataset.name} (#{dataset.pk}) registered: {dataset.rows:,} rows, "
            f"{len(dataset.schema)} columns.")
    return {"dataset": dataset.pk}


def training_set_describe(jobs) -> dict[int, tuple[str, str, str] | str]:
    """"Training set from <entity dataset>", linked to the training set once it is registered."""
    from django.urls import reverse

    from registry.models import Dataset

    def as_int(value):
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    entity_ids = {as_int((job.params or {}).get("entities")) for job in jobs} - {None}
    made = {job.pk: as_int((job.result or {}).get("dataset")) if isinstance(job.result, dict) else None for job in jobs}
    datasets = Dataset.objects.only("pk", "name").in_bulk(entity_ids | (set(made.values()) - {None}))
    names: dict[int, tuple[str, str, str] | str] = {}
    for job in jobs:
        source = datasets.get(as_int((job.params or {}).get("entities")))
        text = f"Training set from {source.name}" if source is not None else "Training set"
        dataset = datasets.get(made[job.pk]) if made[job.pk] is not None else None
        names[job.pk] = ((text, reverse("registry:dataset_detail", args=[dataset.pk]), "Open the training set")
                         if dataset is not None else text)
    return names
