"""What every trainer shares: the spec it is given, the result it returns, input checks, the
split and the feature encoding.

A trainer is a module with ``LABEL``, ``DEFAULTS``, ``PARAMS`` and ``train(spec, frame,
reporter)``. Every check that can fail on a user's data fails here with a sentence that names
the column and says what to do, so a training job's error is readable.

The native model (booster, torch module) takes *encoded* features, all numbers:
``encode(raw_rows, preprocessing)`` makes that frame, with the ``preprocessing`` saved beside
the model (``preprocessing.json`` in the run and in the logged model). Numeric columns pass
through (the torch MLP fills missing values with the training mean); categorical ones become
the index of the value among the training categories ("codes", LightGBM) or one 0/1 column
per training category ("one_hot", the MLP). A value never seen in training is missing (codes)
or all zeros (one-hot). The logged MLflow model (``registry/model_code.py``) wraps both, so it
takes raw features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from portal.errors import DomainError
from registry.model_code import FastEncoder, encoded_columns  # noqa: F401  (encoded_columns re-exported)


class TrainingFailed(DomainError):
    """The data or the configuration cannot be trained on; the message says why."""


class Reporter(Protocol):
    """What a trainer reports to: a ``workers.runtime.JobRun`` or anything shaped like one."""

    def progress(self, percent: float, message: str | None = None) -> None: ...

    def log(self, text: str) -> None: ...


@dataclass(frozen=True)
class Param:
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        if self.kind is list:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise DomainError(f"Parameter {name!r} must be a list of whole numbers, such as [64, 32].", field="params")
            for v in value:
                self._range(name, v)
            return list(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DomainError(f"Parameter {name!r} must be a number, not {value!r}.", field="params")
        if self.kind is int:
            if float(value) != int(value):
                raise DomainError(f"Parameter {name!r} must be a whole number, not {value!r}.", field="params")
            value = int(value)
        else:
            value = float(value)
        self._range(name, value)
        return value

    def _range(self, name: str, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise DomainError(f"Parameter {name!r} must be at least {self.minimum}, not {value}.", field="params")
        if self.maximum is not None and value > self.maximum:
            raise DomainError(f"Parameter {name!r} must be at most {self.maximum}, not {value}.", field="params")


def params_resolve(framework_label: str, specs: dict[str, Param], defaults: dict[str, Any],
                   given: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults with ``given`` laid over them, each value checked against its spec."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise DomainError(
            f"Unknown {framework_label} parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the parameters are {', '.join(sorted(specs))}.",
            field="params",
        )
    resolved = dict(defaults)
    for name, value in given.items():
        resolved[name] = specs[name].check(name, value)
    return resolved


@dataclass(frozen=True)
class TrainSpec:
    target: str
    numeric_features: list[str]
    categorical_features: list[str]
    task: str
    params: dict[str, Any]
    validation_fraction: float = 0.2
    seed: int = 0
    # One-hot encoding keeps at most this many values of a categorical feature (None: all).
    max_categories: int | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]


@dataclass
class TrainResult:
    model: Any
    metrics: dict[str, float]
    history: dict[str, list[float]]  # per iteration (boosting round or epoch), e.g. {"valid_mae": [...]}
    feature_importance: dict[str, float]  # sums to 1 (or all 0)
    iterations: int
    predict: Callable[[pd.DataFrame], np.ndarray]  # raw feature columns -> value, P(positive) or class probabilities
    preprocessing: dict[str, Any]  # for ``encode``: raw feature columns -> what the saved model takes
    classes: list[Any] | None = None
    train_frame: pd.DataFrame | None = None  # the training rows, raw features and target
    valid_frame: pd.DataFrame | None = None


@dataclass
class Prepared:
    """The checked data, split: raw feature frames and encoded targets."""

    train: pd.DataFrame
    valid: pd.DataFrame
    y_train: np.ndarray
    y_valid: np.ndarray
    classes: list[Any] | None


MIN_ROWS = 20
MAX_CLASSES = 100


def _sample(values, n: int = 3) -> str:
    return ", ".join(repr(v) for v in list(dict.fromkeys(values))[:n])


def prepare(frame: pd.DataFrame, spec: TrainSpec) -> Prepared:
    """Check the frame against the spec and split it into training and validation rows."""
    columns = list(frame.columns)
    asked = [spec.target, *spec.features]
    missing = [c for c in asked if c not in frame.columns]
    if missing:
        raise TrainingFailed(
            f"Column {missing[0]!r} is not in the dataset; its columns are {', '.join(map(str, columns))}.",
            field="features" if missing[0] != spec.target else "target", column=missing[0],
        )
    if not spec.features:
        raise TrainingFailed("Choose at least one feature column.", field="features")
    if spec.target in spec.features:
        raise TrainingFailed(f"The target {spec.target!r} cannot also be a feature.", field="features", column=spec.target)
    duplicated = [c for c in spec.features if spec.features.count(c) > 1]
    if duplicated:
        raise TrainingFailed(f"Feature {duplicated[0]!r} is listed twice.", field="features", column=duplicated[0])
    if len(frame) < MIN_ROWS:
        raise TrainingFailed(f"The dataset has {len(frame)} rows; training needs at least {MIN_ROWS}.")

    data = frame[asked].copy()
    for name in spec.numeric_features:
        data[name] = _numeric(data[name], name)
    for name in spec.categorical_features:
        column = data[name]
        data[name] = column.where(column.isna(), column.astype(str)).astype(object)

    target = data[spec.target]
    missing_target = target.isna()
    if missing_target.any():
        first = int(np.flatnonzero(missing_target.to_numpy())[0])
        raise TrainingFailed(
            f"The target {spec.target!r} is missing in {int(missing_target.sum())} of {len(target)} rows "
            f"(first at row {first + 1}); remove or fill those rows before training.",
            field="target", column=spec.target,
        )
    y, classes = _encode_target(target, spec)

    rng = np.random.default_rng(spec.seed)
    if classes is None:
        order = rng.permutation(len(data))
        n_valid = max(1, int(round(len(data) * spec.validation_fraction)))
        valid_idx, train_idx = order[:n_valid], order[n_valid:]
    else:
        # Stratified, so a rare class (fraud) is in both parts in its real proportion.
        valid_parts, train_parts = [], []
        for label in range(len(classes)):
            members = rng.permutation(np.flatnonzero(y == label))
            n_valid = int(round(len(members) * spec.validation_fraction))
            if len(members) >= 2:
                n_valid = min(max(n_valid, 1), len(members) - 1)
            valid_parts.append(members[:n_valid])
            train_parts.append(members[n_valid:])
        valid_idx, train_idx = np.sort(np.concatenate(valid_parts)), np.sort(np.concatenate(train_parts))
    features = data[spec.features]
    return Prepared(
        train=features.iloc[train_idx].reset_index(drop=True),
        valid=features.iloc[valid_idx].reset_index(drop=True),
        y_train=y[train_idx],
        y_valid=y[valid_idx],
        classes=classes,
    )


def _numeric(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    converted = pd.to_numeric(column, errors="coerce")
    bad = column[converted.isna() & column.notna()]
    if len(bad):
        raise TrainingFailed(
            f"Feature {name!r} is listed as numeric but holds values that are not numbers, such as "
            f"{_sample(bad.tolist())}; list it as a categorical feature or fix those values.",
            field="features", column=name,
        )
    return converted.astype(float)


def _encode_target(target: pd.Series, spec: TrainSpec) -> tuple[np.ndarray, list[Any] | None]:
    name = spec.target
    if spec.task == "regression":
        values = pd.to_numeric(target, errors="coerce")
        if values.isna().any():
            bad = target[values.isna()].tolist()
            raise TrainingFailed(
                f"A regression target must be numeric; {name!r} holds values such as {_sample(bad)}.",
                field="target", column=name,
            )
        values = values.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise TrainingFailed(f"The target {name!r} holds infinite values.", field="target", column=name)
        return values, None
    classes = sorted(target.unique().tolist(), key=lambda v: (str(type(v)), v))
    if spec.task == "binary" and len(classes) != 2:
        raise TrainingFailed(
            f"A binary task needs a target with exactly two values; {name!r} has {len(classes)} "
            f"({_sample(classes, 5)}{', ...' if len(classes) > 5 else ''}).",
            field="target", column=name,
        )
    if spec.task == "multiclass" and not 3 <= len(classes) <= MAX_CLASSES:
        raise TrainingFailed(
            f"A multiclass task needs a target with 3 to {MAX_CLASSES} values; {name!r} has {len(classes)}.",
            field="target", column=name,
        )
    index = {value: i for i, value in enumerate(classes)}
    encoded = target.map(index).to_numpy(dtype=int)
    return encoded, [v.item() if hasattr(v, "item") else v for v in classes]


def encode(frame: pd.DataFrame, preprocessing: dict[str, Any]) -> pd.DataFrame:
    """Raw feature columns -> the float frame the saved model takes (see the module docstring).

    The numbers come from ``model_code.FastEncoder``, the encoder the saved model and the
    serving runtime use, so training and serving cannot drift apart. Text in a numeric column
    is a missing value here, as ``pd.to_numeric(errors="coerce")`` makes it.
    """
    values = FastEncoder(preprocessing).encode_frame(frame, strict=False)
    return pd.DataFrame(values, index=frame.index, columns=encoded_columns(preprocessing))


def training_categories(frame: pd.DataFrame, names: list[str]) -> dict[str, list[str]]:
    return {name: sorted(frame[name].dropna().astype(str).unique().tolist()) for name in names}


def one_hot_categories(frame: pd.DataFrame, names: list[str], *, max_categories: int | None,
                       reporter: Reporter | None = None) -> dict[str, list[str]]:
    """The training categories, each feature's cut to its ``max_categories`` most frequent values.

    A value left out is encoded as all zeros, as a value never seen in training is: together
    they are the "other" category, so serving needs nothing new. Each cut is written to the log.
    """
    categories = {}
    for name in names:
        values = frame[name].dropna().astype(str)
        counts = values.value_counts()
        if max_categories is None or len(counts) <= max_categories:
            categories[name] = sorted(counts.index.tolist())
            continue
        # Most frequent first; a tie goes to the smaller value, so the cut is the same every run.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [value for value, _ in ranked[:max_categories]]
        other_rows = int(sum(count for _, count in ranked[max_categories:]))
        categories[name] = sorted(kept)
        if reporter is not None:
            reporter.log(
                f"Feature {name!r} has {len(counts):,} distinct values; kept the {max_categories:,} most frequent "
                f"and encoded the other {len(counts) - max_categories:,} ({other_rows:,} training rows) as one "
                f"\"other\" category (TRAINING_MAX_CATEGORIES)."
            )
    return categories


class Throttled:
    """Passes progress on at most every ``interval`` seconds (always the last one), so a fast
    loop does not write a database row per iteration. Each pass also checks for a cancel."""

    def __init__(self, reporter: Reporter, *, interval: float = 0.5, start: float = 5.0, end: float = 90.0):
        self.reporter = reporter
        self.interval = interval
        self.start = start
        self.end = end
        self._last = 0.0
        self._percent = start
        self._message = "Training"
        self._points: dict[str, list[tuple[int, float]]] = {}

    def point(self, series: str, step: int, value: float) -> None:
        """A point of a curve the job's page draws live; sent with the next progress report."""
        self._points.setdefault(series, []).append((step, value))

    def step(self, done: int, total: int, message: str, *, force: bool = False) -> None:
        self._percent = self.start + (self.end - self.start) * done / max(total, 1)
        self._message = message
        self.tick(force=force)

    def tick(self, *, force: bool = False) -> None:
        """Call inside long iterations (each batch): repeats the last progress when it is due,
        so a cancel is noticed within ``interval`` seconds even in a slow epoch."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        record = getattr(self.reporter, "record", None)
        if self._points and record is not None:
            points, self._points = self._points, {}
            record(points)
        self.reporter.progress(self._percent, self._message)


def importance_normalised(values: dict[str, float]) -> dict[str, float]:
    total = float(sum(max(v, 0.0) for v in values.values()))
    if total <= 0:
        return {k: 0.0 for k in values}
    return {k: max(float(v), 0.0) / total for k, v in values.items()}
