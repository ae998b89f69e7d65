"""The reference profile saved with each model version: what its training data and its
predictions looked like, so monitoring can tell when live traffic drifts away from it.

Numeric columns are summarised by quantile bins: ``edges`` are the inner cut points and
``fractions`` the share of non-missing values in each bin, where bin ``i`` holds
``edges[i-1] < v <= edges[i]`` (the first and last bins are open). Use ``bin_fractions`` to
put live values in the same bins. Categorical columns keep the frequency of each of their
most common values and the share of everything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
QUANTILE_BINS = 10
TOP_CATEGORIES = 50


def bin_fractions(values: np.ndarray, edges: list[float]) -> list[float]:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return [0.0] * (len(edges) + 1)
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=float), values, side="left"),
                         minlength=len(edges) + 1)
    return (counts / len(values)).tolist()


def numeric_profile(values: Any, *, bins: int = QUANTILE_BINS) -> dict[str, Any]:
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    profile: dict[str, Any] = {"type": "numeric", "count": int(len(values)),
                               "missing_rate": float(1 - len(present) / len(values)) if len(values) else 0.0}
    if len(present) == 0:
        return {**profile, "edges": [], "fractions": [], "mean": None, "std": None, "min": None, "max": None}
    inner = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    edges = sorted(set(float(e) for e in inner))
    return {
        **profile,
        "edges": edges,
        "fractions": bin_fractions(present, edges),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(present.min()),
        "max": float(present.max()),
    }


def categorical_profile(values: Any, *, top: int = TOP_CATEGORIES) -> dict[str, Any]:
    series = pd.Series(values, dtype=object)
    present = series.dropna().astype(str)
    counts = present.value_counts()
    frequencies = {str(k): float(v / len(present)) for k, v in counts.head(top).items()} if len(present) else {}
    return {
        "type": "categorical",
        "count": int(len(series)),
        "missing_rate": float(1 - len(present) / len(series)) if len(series) else 0.0,
        "frequencies": frequencies,
        "other": float(max(0.0, 1.0 - sum(frequencies.values()))),
        "distinct": int(counts.size),
    }


def reference_profile(frame: pd.DataFrame, *, numeric: list[str], categorical: list[str], task: str,
                      predictions: np.ndarray, target: str | None = None, classes: list | None = None) -> dict:
    """The profile of ``frame`` (raw feature columns, and the encoded target if given) and of
    the model's ``predictions`` on it."""
    predictions = np.asarray(predictions, dtype=float)
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "rows": int(len(frame)),
        "task": task,
        "features": {
            **{name: numeric_profile(pd.to_numeric(frame[name], errors="coerce")) for name in numeric},
            **{name: categorical_profile(frame[name]) for name in categorical},
        },
    }
    if task == "multiclass":
        labels = [str(c) for c in (classes or range(predictions.shape[1]))]
        profile["prediction"] = {
            "type": "classes",
            "classes": labels,
            "predicted_class_frequencies": categorical_profile(
                np.asarray(labels, dtype=object)[predictions.argmax(axis=1)])["frequencies"],
            "mean_probabilities": predictions.mean(axis=0).tolist(),
        }
    else:
        profile["prediction"] = numeric_profile(predictions)
    if target is not None and target in frame:
        if task == "regression":
            profile["target"] = numeric_profile(frame[target])
        else:
            labels = [str(c) for c in (classes or [])]
            codes = np.asarray(frame[target], dtype=int)
            profile["target"] = categorical_profile(np.asarray(labels, dtype=object)[codes] if labels else codes)
    return profile
