"""The reference profile and the metrics: pure functions, checked on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from registry import metrics
from registry.profiles import bin_fractions, categorical_profile, numeric_profile, reference_profile


def test_numeric_profile_has_quantile_bins_live_values_can_be_put_in():
    values = np.concatenate([np.arange(1, 101, dtype=float), [np.nan] * 25])
    profile = numeric_profile(values, bins=4)
    assert profile["missing_rate"] == pytest.approx(0.2)
    assert profile["edges"] == pytest.approx([25.75, 50.5, 75.25])
    assert profile["fractions"] == pytest.approx([0.25, 0.25, 0.25, 0.25])
    # Live traffic shifted upwards fills the top bin.
    assert bin_fractions(np.array([80.0, 90.0, 99.0, 10.0]), profile["edges"]) == pytest.approx([0.25, 0, 0, 0.75])


def test_categorical_profile_keeps_the_common_values_and_the_rest():
    profile = categorical_profile(["a"] * 6 + ["b"] * 3 + ["c"] + [None] * 2, top=2)
    assert profile["frequencies"] == pytest.approx({"a": 0.6, "b": 0.3})
    assert profile["other"] == pytest.approx(0.1) and profile["missing_rate"] == pytest.approx(2 / 12)
    assert profile["distinct"] == 3


def test_reference_profile_of_a_classifier_names_its_classes():
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["u", "v", "u", None], "y": [0, 1, 2, 1]})
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    profile = reference_profile(frame, numeric=["x"], categorical=["c"], task="multiclass", predictions=probabilities,
                                target="y", classes=["fast", "normal", "slow"])
    assert profile["prediction"]["predicted_class_frequencies"] == {"normal": 0.5, "fast": 0.25, "slow": 0.25}
    assert profile["target"]["frequencies"] == {"normal": 0.5, "fast": 0.25, "slow": 0.25}
    assert profile["features"]["c"]["missing_rate"] == 0.25


def test_metrics():
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert metrics.roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    assert metrics.mae(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 1.0
    assert metrics.accuracy(np.array([0, 2]), np.array([[0.9, 0.05, 0.05], [0.2, 0.5, 0.3]])) == 0.5
    assert metrics.log_loss(np.array([1]), np.array([0.5])) == pytest.approx(np.log(2))
