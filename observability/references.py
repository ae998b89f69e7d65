"""Each model version's reference: its training features and predictions, binned once and cached.

Built from the ``reference_sample.parquet`` its training run saved (up to 100,000 raw rows with
the target and the model's prediction), so statistics that need raw values (KS) are exact. A
version trained before the sample existed falls back to its dataset's rows, without a prediction
reference, until the reference job has written its sample.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from observability import metrics
from registry.models import ModelVersion

CACHE_SIZE = 16
_cache: OrderedDict[int, VersionReference] = OrderedDict()
_lock = threading.Lock()


@dataclass
class VersionReference:
    version_id: int
    task: str
    numeric: list[str]
    categorical: list[str]
    classes: list | None
    features: dict[str, Any]
    prediction: Any | None
    source: str  # "sample" or "dataset"
    rows: int
    target: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def numeric_column(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def categorical_column(values) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    return np.where(series.isna(), None, series.astype(str)).astype(object)


def prediction_values(outputs: list, task: str) -> np.ndarray:
    """The monitored value of each output: the number (regression, P(positive)) or the label."""
    if task == "multiclass":
        return categorical_column([o.get("label") if isinstance(o, dict) else o for o in outputs])
    return numeric_column(outputs)


def _classes(version: ModelVersion) -> list | None:
    from registry import mlflow_client

    try:
        return mlflow_client.run_artifact_dict(run_id=version.mlflow_run_id,
                                               artifact_file="preprocessing.json").get("classes")
    except Exception:
        return None


def _build(version: ModelVersion) -> VersionReference:
    from registry.selectors import dataset_frame
    from serving.runtime.verify import reference_frame_for
    from serving.selectors import version_spec

    params = version.params or {}
    numeric = list(params.get("numeric_features", []))
    categorical = list(params.get("categorical_features", []))
    task = params.get("task", "regression")
    frame = reference_frame_for(version_spec(version))
    source = "sample"
    if frame is None:
        frame, source = dataset_frame(dataset=version.dataset), "dataset"
        _backfill(version)
    features = {name: metrics.numeric_reference(numeric_column(frame[name])) for name in numeric if name in frame}
    features.update({name: metrics.categorical_reference(categorical_column(frame[name]))
                     for name in categorical if name in frame})
    prediction = None
    if "prediction" in frame and source == "sample":
        values = prediction_values(frame["prediction"].tolist(), task)
        prediction = (metrics.categorical_reference(values) if task == "multiclass"
                      else metrics.numeric_reference(values))
    return VersionReference(version_id=version.pk, task=task, numeric=numeric, categorical=categorical,
                            classes=_classes(version) if task != "regression" else None, features=features,
                            prediction=prediction, source=source, rows=len(frame),
                            target=params.get("target", ""))


def _backfill(version: ModelVersion) -> None:
    """Ask for the version's sample once; until it exists, its dataset's rows stand in."""
    from workers.models import Job
    from workers.services import job_start

    if not Job.objects.active().filter(kind="reference_backfill", object_type="modelversion",
                                       object_id=str(version.pk)).exists():
        job_start(kind="reference_backfill", started_by=None, params={"model_version_id": version.pk}, obj=version,
                  message="Waiting for a worker to compute the reference sample.")


def reference_for(version: ModelVersion) -> VersionReference:
    """The version's reference, built on first use and kept for the next runs of this process."""
    with _lock:
        if version.pk in _cache:
            _cache.move_to_end(version.pk)
            return _cache[version.pk]
    built = _build(version)
    if built.source != "sample":  # a stand-in until the reference job writes the sample
        return built
    with _lock:
        _cache[version.pk] = built
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def cache_forget(version_id: int) -> None:
    with _lock:
        _cache.pop(version_id, None)


def cache_clear() -> None:
    with _lock:
        _cache.clear()
