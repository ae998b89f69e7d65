"""The portal's self-contained MLflow model: raw features in, predictions out.

This file is logged as MLflow "models from code", so it must import nothing from the portal
(no Django): numpy, pandas, mlflow and, only when the model needs them, lightgbm or torch.
The serving runtime uses the same classes, so ``mlflow models serve`` and the serving tier
encode and predict through one path.

Artifacts the model carries (``context.artifacts``):

- ``preprocessing``: ``preprocessing.json`` (features, task, classes, encoding, categories, fill).
- ``booster`` (LightGBM): the booster's text file, cut at the best iteration.
- ``state_dict`` and ``architecture`` (torch): the MLP's weights (``torch.save``) and its shape
  as JSON, rebuilt by :func:`mlp_load`; the weights load with ``weights_only=True``.

What ``predict`` returns: regression, a 1-D array of values; binary, a 1-D array of
P(positive class) (the second of ``classes``); multiclass, a DataFrame with one column per
class (named ``str(class)``), each row the class probabilities.

Booleans are accepted for numeric features as 1/0, as training accepted them.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd

PREPROCESSING = "preprocessing"
BOOSTER = "booster"
STATE_DICT = "state_dict"
ARCHITECTURE = "architecture"


# --- encoding -------------------------------------------------------------------------------

class InvalidInstances(ValueError):
    """Instances that cannot be encoded; ``errors`` lists ``(instance index, field, message)``."""

    def __init__(self, errors: list[tuple[int, str, str]]):
        self.errors = errors
        shown = "; ".join(f"instance {i}, {field!r}: {message}" for i, field, message in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} invalid value{'s' if len(errors) != 1 else ''}: {shown}{more}")

    def as_details(self) -> list[dict[str, Any]]:
        return [{"instance": i, "field": field, "message": message} for i, field, message in self.errors]


def encoded_columns(preprocessing: dict[str, Any]) -> list[str]:
    if preprocessing["encoding"] == "codes":
        return [*preprocessing["numeric"], *preprocessing["categories"]]
    return [*preprocessing["numeric"], *(f"{name}={value}" for name, cats in preprocessing["categories"].items()
                                          for value in cats)]


def feature_order(preprocessing: dict[str, Any]) -> list[str]:
    return list(preprocessing.get("features") or [*preprocessing["numeric"], *preprocessing["categories"]])


_NAN = float("nan")


class _BadValue(Exception):
    pass


def _number(value: Any) -> float:
    """One raw numeric value as ``pd.to_numeric`` reads it; missing is NaN."""
    kind = type(value)
    if kind is float or kind is int or kind is bool:
        return float(value)
    if value is None:
        return _NAN
    if kind is str:
        text = value.strip()
        if not text:
            return _NAN
        if "_" not in text:
            try:
                return float(text)
            except ValueError:
                pass
        raise _BadValue(f"expected a number, got the text {value[:40]!r}")
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return float(value)
    raise _BadValue(f"expected a number, got {kind.__name__}")


def _category(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return value
    if value is None or (kind is float and math.isnan(value)):
        return None
    if isinstance(value, (dict, list, tuple, set)):
        raise _BadValue(f"expected a category (text), got {kind.__name__}")
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


class FastEncoder:
    """Raw rows -> the 2-D float array the native model takes, the numbers of ``encode``.

    Built once per model: lookup tables and output positions are precomputed so a single
    row of plain Python values encodes without pandas.
    """

    def __init__(self, preprocessing: dict[str, Any]):
        self.preprocessing = preprocessing
        self.features = feature_order(preprocessing)
        self.numeric = list(preprocessing["numeric"])
        self.categorical = list(preprocessing["categories"])
        self.one_hot = preprocessing["encoding"] == "one_hot"
        self.columns = encoded_columns(preprocessing)
        self.width = len(self.columns)
        self.dtype = np.float32 if preprocessing.get("dtype") == "float32" else np.float64
        fill = preprocessing.get("fill") or {}
        position = {name: i for i, name in enumerate(self.columns)}
        self._known = frozenset(self.features)
        # Per feature in request order: (name, is_numeric, position or lookup, fill)
        plan = []
        for name in self.features:
            if name in preprocessing["numeric"]:
                plan.append((name, True, position[name], float(fill[name]) if name in fill else None))
            elif self.one_hot:
                cats = preprocessing["categories"][name]
                plan.append((name, False, {v: position[f"{name}={v}"] for v in cats}, None))
            else:
                cats = preprocessing["categories"][name]
                plan.append((name, False, (position[name], {v: float(i) for i, v in enumerate(cats)}), None))
        self._plan = plan
        self._template = [0.0] * self.width

    # -- plain Python rows (the request path) --

    def encode_records(self, instances: list) -> np.ndarray:
        """Each instance a dict keyed by feature name or a list in ``features`` order."""
        rows = []
        errors: list[tuple[int, str, str]] = []
        n_features = len(self.features)
        for index, instance in enumerate(instances):
            if type(instance) is dict:
                if len(instance) != n_features or not self._known.issuperset(instance):
                    # Name every problem at once: the keys, then the values that are there.
                    self._key_errors(index, instance, errors)
                    rows.append(self._row(index, [instance.get(name) for name in self.features], errors))
                    continue
                values = [instance[name] for name in self.features]
            elif type(instance) is list:
                if len(instance) != n_features:
                    errors.append((index, "*", f"expected {n_features} values in the order "
                                               f"{', '.join(self.features)}; got {len(instance)}"))
                    rows.append(self._template)
                    continue
                values = instance
            else:
                errors.append((index, "*", "an instance must be an object keyed by feature name "
                                           "or a list of values in feature order"))
                rows.append(self._template)
                continue
            rows.append(self._row(index, values, errors))
        if errors:
            raise InvalidInstances(errors)
        return np.array(rows, dtype=np.float64).reshape(len(rows), self.width).astype(self.dtype, copy=False)

    def _row(self, index: int, values, errors) -> list[float]:
        row = self._template[:]
        for (name, numeric, where, fill), value in zip(self._plan, values):
            try:
                if numeric:
                    number = _number(value)
                    if number != number and fill is not None:
                        number = fill
                    row[where] = number
                elif self.one_hot:
                    category = _category(value)
                    at = where.get(category) if category is not None else None
                    if at is not None:
                        row[at] = 1.0
                else:
                    category = _category(value)
                    at, lookup = where
                    row[at] = lookup.get(category, _NAN) if category is not None else _NAN
            except _BadValue as bad:
                errors.append((index, name, str(bad)))
        return row

    def _key_errors(self, index: int, instance: dict, errors) -> None:
        for name in self.features:
            if name not in instance:
                errors.append((index, name, "missing feature (send null for a missing value)"))
        for name in instance:
            if name not in self._known:
                errors.append((index, str(name), "unknown feature"))

    # -- frames (training, batch scoring, MLflow's pyfunc) --

    def encode_frame(self, frame: pd.DataFrame, *, strict: bool = True) -> np.ndarray:
        """Vectorised. ``strict`` reports missing columns and non-numeric text in numeric
        columns; without it such text is a missing value (what training-time ``encode`` did)."""
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise InvalidInstances([(-1, name, "missing feature column") for name in missing])
        out = np.zeros((len(frame), self.width), dtype=np.float64)
        fill = self.preprocessing.get("fill") or {}
        errors: list[tuple[int, str, str]] = []
        for i, name in enumerate(self.numeric):
            column = frame[name]
            converted = pd.to_numeric(column, errors="coerce")
            if strict and column.dtype == object:
                bad = converted.isna() & column.notna() & ~column.map(lambda v: isinstance(v, str) and not v.strip())
                for at in np.flatnonzero(bad.to_numpy())[:20]:
                    errors.append((int(at), name, f"expected a number, got {column.iloc[at]!r}"[:80]))
            values = converted.astype(float).to_numpy()
            out[:, i] = np.where(np.isnan(values), fill[name], values) if name in fill else values
        start = len(self.numeric)
        for name, cats in self.preprocessing["categories"].items():
            column = frame[name]
            values = column.where(column.isna(), column.astype(str)).to_numpy(dtype=object)
            if self.one_hot:
                for value in cats:
                    out[:, start] = values == value
                    start += 1
            else:
                index = {value: float(i) for i, value in enumerate(cats)}
                out[:, start] = [index.get(v, _NAN) for v in values]
                start += 1
        if errors:
            raise InvalidInstances(errors)
        return out.astype(self.dtype, copy=False)

    def encode(self, data) -> np.ndarray:
        if isinstance(data, pd.DataFrame):
            return self.encode_frame(data)
        if isinstance(data, dict):
            data = [data]
        return self.encode_records(list(data))


# --- native models --------------------------------------------------------------------------

def _torch():
    import torch

    return torch


_MLP = None


def mlp_class():
    """The MLP module class, defined on first use so a LightGBM model never imports torch."""
    global _MLP
    if _MLP is not None:
        return _MLP
    torch = _torch()
    from torch import nn

    class MLP(nn.Module):
        """Standardise the encoded features, hidden ReLU layers, then the task's output: the
        value (regression), P(positive) (binary) or class probabilities (multiclass)."""

        def __init__(self, *, n_in: int, n_out: int, hidden_layers: list[int], dropout: float, task: str,
                     scale: dict[str, Any] | None = None):
            super().__init__()
            layers: list[nn.Module] = []
            width = n_in
            for hidden in hidden_layers:
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                if dropout:
                    layers.append(nn.Dropout(dropout))
                width = hidden
            layers.append(nn.Linear(width, n_out))
            self.net = nn.Sequential(*layers)
            self.task = task
            self.architecture = {"n_in": n_in, "n_out": n_out, "hidden_layers": list(hidden_layers),
                                 "dropout": float(dropout), "task": task}
            scale = scale or {"x_mean": np.zeros(n_in), "x_std": np.ones(n_in), "y_mean": 0.0, "y_std": 1.0}
            for name in ("x_mean", "x_std", "y_mean", "y_std"):
                self.register_buffer(name, torch.tensor(np.asarray(scale[name]), dtype=torch.float32))

        def raw(self, x):
            """The output before the link: what the loss is computed on (standardised for regression)."""
            return self.net((x - self.x_mean) / self.x_std)

        def forward(self, x):
            out = self.raw(x)
            if self.task == "regression":
                return out.squeeze(-1) * self.y_std + self.y_mean
            if self.task == "binary":
                return torch.sigmoid(out.squeeze(-1))
            return torch.softmax(out, dim=-1)

    MLP.__module__ = __name__
    MLP.__qualname__ = "MLP"
    _MLP = MLP
    return MLP


def __getattr__(name: str):
    if name == "MLP":
        return mlp_class()
    raise AttributeError(name)


def mlp_save(module, folder: str) -> dict[str, str]:
    """Write the weights and the architecture; return the artifacts dict for ``log_model``."""
    torch = _torch()
    os.makedirs(folder, exist_ok=True)
    weights, shape = os.path.join(folder, "state_dict.pt"), os.path.join(folder, "architecture.json")
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, weights)
    with open(shape, "w") as out:
        json.dump({**module.architecture,
                   "scale": {k: getattr(module, k).cpu().numpy().tolist() for k in ("x_mean", "x_std", "y_mean", "y_std")}},
                  out)
    return {STATE_DICT: weights, ARCHITECTURE: shape}


def mlp_load(state_dict_path: str, architecture_path: str, device: str = "cpu"):
    torch = _torch()
    with open(architecture_path) as f:
        shape = json.load(f)
    scale = shape.pop("scale", None)
    module = mlp_class()(**shape, scale=scale)
    module.load_state_dict(torch.load(state_dict_path, map_location="cpu", weights_only=True))
    return module.to(device).eval()


class LightGBMPredictor:
    """A booster predicting on an encoded array; the output as ``predict`` documents."""

    framework = "lightgbm"

    def __init__(self, booster):
        self.booster = booster

    @classmethod
    def from_file(cls, path: str) -> "LightGBMPredictor":
        import lightgbm

        return cls(lightgbm.Booster(model_file=path))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # One thread: per-request batches are small, and threads cost more than they save.
        return np.asarray(self.booster.predict(x, num_threads=1 if len(x) < 1000 else 0))


class TorchPredictor:
    framework = "torch"

    def __init__(self, module, device: str = "cpu"):
        self.module = module
        self.device = device
        self._torch = _torch()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            return self.module(tensor).cpu().numpy().astype(np.float64)


def predictor_load(artifacts: dict[str, str], device: str = "cpu"):
    if BOOSTER in artifacts:
        return LightGBMPredictor.from_file(artifacts[BOOSTER])
    return TorchPredictor(mlp_load(artifacts[STATE_DICT], artifacts[ARCHITECTURE], device), device)


def preprocessing_load(path: str) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def output_frame(values: np.ndarray, preprocessing: dict[str, Any]):
    """What the pyfunc returns for the native output (see the module docstring)."""
    if preprocessing.get("task") == "multiclass":
        return pd.DataFrame(np.asarray(values, dtype=np.float64), columns=[str(c) for c in preprocessing["classes"]])
    return np.asarray(values, dtype=np.float64).reshape(-1)


# --- the MLflow pyfunc ----------------------------------------------------------------------

try:
    import warnings

    import mlflow.pyfunc

    # MLflow suggests type hints for input validation; the encoder validates raw rows itself, and
    # the hint would make MLflow coerce types the encoder must see as sent.
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method")

    class PortalModel(mlflow.pyfunc.PythonModel):
        """Raw feature frame in, predictions out (see the module docstring)."""

        def load_context(self, context) -> None:
            self.preprocessing = preprocessing_load(context.artifacts[PREPROCESSING])
            self.encoder = FastEncoder(self.preprocessing)
            self.predictor = predictor_load(context.artifacts)

        def predict(self, context, model_input, params=None):
            if isinstance(model_input, pd.DataFrame):
                x = self.encoder.encode_frame(model_input)
            else:
                x = self.encoder.encode(model_input)
            return output_frame(self.predictor(x), self.preprocessing)

    mlflow.models.set_model(PortalModel())
except ImportError:  # the runtime can use the encoder and predictors without MLflow
    pass
