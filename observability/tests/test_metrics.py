"""observability.metrics against scipy/sklearn as references, and the drift decisions it makes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from observability import metrics as M

ROOT = Path(__file__).resolve().parents[2]

try:
    import sklearn.metrics as skm
except ImportError:  # pragma: no cover - sklearn is in the dev environment
    skm = None

DEFAULTS = M.DEFAULT_THRESHOLDS


def test_imports_without_django_scipy_or_pandas():
    code = ("import sys, observability.metrics; "
            "bad = [m for m in ('django', 'scipy', 'pandas') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- the statistics against their references ------------------------------------------------------

def test_psi_equals_a_direct_computation_on_the_same_bins():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20_000)
    cur = rng.normal(0.3, 1.2, size=5_000)
    reference = M.numeric_reference(ref)
    result = M.numeric_drift(reference, cur, min_rows=50)
    # The same decile bins by hand: bin i holds edges[i-1] < v <= edges[i].
    edges = np.quantile(ref, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf")
    e = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / len(ref)
    a = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / len(cur)
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    expected = float(np.sum((a - e) * np.log(a / e)))
    assert result["psi"] == pytest.approx(expected, abs=1e-9)
    np.testing.assert_allclose(result["histogram"]["edges"], edges, rtol=0, atol=0)
    assert M.psi(e, a) == pytest.approx(expected, abs=1e-12)


def test_psi_epsilon_keeps_empty_bins_finite():
    value = M.psi(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2]))
    assert math.isfinite(value) and value > 1.0
    assert M.psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


@pytest.mark.parametrize("n1, n2", [(8, 5), (40, 40), (30, 250), (120, 1000), (1000, 130), (3000, 3000),
                                    (50_000, 20_000), (2_000, 300_000)])
@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.5])
@pytest.mark.parametrize("ties", [False, True])
def test_ks_matches_scipy_asymptotic(n1, n2, shift, ties):
    rng = np.random.default_rng(n1 * 7 + n2)
    a = rng.normal(size=n1)
    b = rng.normal(shift, size=n2)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    expected = stats.ks_2samp(a, b, method="asymp")
    d, p = M.ks_two_sample(np.sort(a), b)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 140, 141, 1_000, 20_000, 90_909, 100_001, 1_200_000])
def test_kolmogorov_distribution_matches_scipy_kstwo(n):
    # Every branch: Ruben-Gambino ends, the Durbin matrix, Pelz-Good, the Smirnov sums, the zeros.
    grid = np.concatenate([np.linspace(0.2, 5.0, 25) / math.sqrt(n), np.linspace(0.01, 0.99, 12),
                           [0.4 / n, 0.5 / n, 0.75 / n, 1.0 / n, 1 - 1.0 / n, 0.5]])
    for d in grid[(grid > 0) & (grid < 1)]:
        assert M.kstwo_sf(float(d), n) == pytest.approx(stats.kstwo.sf(d, n), abs=1e-9), (n, d)


def test_ks_empty_sample_gives_none():
    assert M.ks_two_sample(np.array([1.0, 2.0]), np.array([np.nan])) == (None, None)


@pytest.mark.parametrize("k", [2, 3, 6, 20])
def test_chi_square_matches_scipy(k):
    rng = np.random.default_rng(k)
    fractions = rng.dirichlet(np.ones(k))
    for observed in (rng.multinomial(800, fractions), rng.multinomial(800, rng.dirichlet(np.ones(k) * 3))):
        expected = stats.chisquare(observed, fractions * observed.sum())
        assert M.chi_square_pvalue(observed, fractions) == pytest.approx(expected.pvalue, abs=1e-9)


def test_chi_square_survival_on_both_sides_of_its_switch():
    for dof in (1, 2, 5, 30, 200):
        for statistic in (0.01, 0.5, dof - 1.5, dof, dof + 3.0, 4 * dof + 10, 500.0):
            if statistic > 0:
                assert M.chi2_sf(statistic, dof) == pytest.approx(stats.chi2.sf(statistic, dof), abs=1e-12)


@pytest.mark.parametrize("k", [2, 5, 11])
def test_js_distance_matches_scipy(k):
    rng = np.random.default_rng(k)
    p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
    q[0] = 0.0
    assert M.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)
    assert M.js_distance(p * 7, q * 3) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)
    assert M.js_distance(p, p) == pytest.approx(0.0, abs=1e-7)
    assert M.js_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_numeric_reference_bins():
    values = np.concatenate([np.arange(1000, dtype=float), [np.nan] * 250])
    ref = M.numeric_reference(values)
    assert ref.missing_rate == pytest.approx(0.2)
    assert (ref.low, ref.high, ref.count) == (0.0, 999.0, 1250)
    assert len(ref.edges) == 9 and len(ref.fractions) == 10
    np.testing.assert_allclose(ref.fractions, 0.1, atol=0.002)
    assert np.all(np.diff(ref.sorted_values) > 0)
    # A value equal to an edge belongs to the bin below it.
    binary = M.numeric_reference(np.array([0.0] * 300 + [1.0] * 700))
    assert binary.edges.tolist() == [0.0]
    assert binary.fractions.tolist() == [0.3, 0.7]


# --- drift decisions -----------------------------------------------------------------------------

def _window(rng, rows, shift_feature=None, shift=1.0):
    frame = {f"f{i}": rng.normal(10.0 * i, 1.0 + i, size=rows) for i in range(10)}
    if shift_feature is not None:
        i = int(shift_feature[1:])
        frame[shift_feature] = frame[shift_feature] + shift * (1.0 + i)  # shift by 1 std
    return frame


def _statuses(references, window, thresholds=DEFAULTS):
    results = {name: M.numeric_drift(references[name], column, min_rows=thresholds["min_rows"])
               for name, column in window.items()}
    return {name: M.status_of(r, thresholds) for name, r in results.items()}, results


@pytest.fixture(scope="module")
def references():
    rng = np.random.default_rng(2024)
    return {name: M.numeric_reference(column) for name, column in _window(rng, 20_000).items()}


def test_one_shifted_feature_alerts_and_the_nine_others_are_ok(references):
    statuses, results = _statuses(references, _window(np.random.default_rng(7), 5_000, "f3"))
    assert statuses["f3"] == "alert"
    assert {s for name, s in statuses.items() if name != "f3"} == {"ok"}
    assert results["f3"]["psi"] > 0.2 and results["f3"]["ks_statistic"] > 0.3
    assert not M.dataset_drift(statuses, share=DEFAULTS["dataset_drift_share"])
    json.dumps(results, allow_nan=False)  # ready to store


def test_a_window_from_the_same_distribution_flags_nothing(references):
    for seed in range(3):
        statuses, _ = _statuses(references, _window(np.random.default_rng(100 + seed), 5_000))
        assert set(statuses.values()) == {"ok"}


def test_a_ten_row_window_is_not_enough_data_never_drift(references):
    statuses, results = _statuses(references, _window(np.random.default_rng(3), 10, "f0", shift=5.0))
    assert set(statuses.values()) == {"not_enough_data"}
    for result in results.values():
        assert result["not_enough_data"] is True and result["rows"] == 10
        assert all(result[key] is None for key in ("psi", "ks_statistic", "ks_pvalue", "js_distance",
                                                   "out_of_range_rate", "missing_rate_change"))
    assert not M.dataset_drift(statuses, share=0.5)


def test_ks_needs_an_effect_as_well_as_a_small_p_value():
    rng = np.random.default_rng(5)
    ref = M.numeric_reference(rng.normal(size=100_000))
    result = M.numeric_drift(ref, rng.normal(0.03, 1.0, size=400_000), min_rows=50)
    assert result["ks_pvalue"] < 0.05 and result["ks_statistic"] < 0.1
    assert M.status_of(result, DEFAULTS) == "ok"
    result = M.numeric_drift(ref, rng.normal(0.3, 1.0, size=2_000), min_rows=50)
    assert result["ks_statistic"] >= 0.1 and result["ks_pvalue"] < 0.05 and result["psi"] < 0.2
    assert M.status_of(result, DEFAULTS) == "alert"
    assert M.status_of(result, {"ks_min_rows": 5_000}) != "alert"


def test_missing_values_raise_missing_rate_change():
    rng = np.random.default_rng(6)
    ref = M.numeric_reference(rng.normal(size=10_000))
    current = rng.normal(size=2_000)
    current[:400] = np.nan
    result = M.numeric_drift(ref, current, min_rows=50)
    assert result["missing_rate"] == pytest.approx(0.2) and result["missing_rate_change"] == pytest.approx(0.2)
    assert M.status_of(result, DEFAULTS) == "alert"
    # A feature that stopped arriving altogether has no values to compare, but still alerts.
    gone = M.numeric_drift(ref, np.full(500, np.nan), min_rows=50)
    assert gone["not_enough_data"] and gone["psi"] is None and gone["missing_rate_change"] == 1.0
    assert M.status_of(gone, DEFAULTS) == "alert"


def test_out_of_range_values():
    rng = np.random.default_rng(8)
    ref = M.numeric_reference(rng.uniform(0, 1, size=10_000))
    current = rng.uniform(0, 1, size=1_000)
    current[:100] = 5.0
    result = M.numeric_drift(ref, current, min_rows=50)
    assert result["out_of_range_rate"] == pytest.approx(0.1)
    assert M.status_of(result, DEFAULTS) == "alert"


def test_categorical_unseen_categories_raise_out_of_range_rate():
    rng = np.random.default_rng(9)
    training = rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=5_000).astype(object)
    training[:500] = None
    ref = M.categorical_reference(training)
    assert ref.categories == ("a", "b", "c")
    assert ref.missing_rate == pytest.approx(0.1)
    np.testing.assert_allclose(ref.fractions, [0.5, 0.3, 0.2], atol=0.03)

    same = rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=2_000).astype(object)
    same[:200] = None
    result = M.categorical_drift(ref, same, min_rows=50)
    assert result["ks_statistic"] is None and result["ks_pvalue"] is None
    assert result["out_of_range_rate"] == 0.0 and M.status_of(result, DEFAULTS) == "ok"

    unseen = rng.choice(["a", "b", "c", "zz"], p=[0.4, 0.25, 0.15, 0.2], size=2_000).astype(object)
    unseen[:10] = np.nan
    result = M.categorical_drift(ref, unseen, min_rows=50)
    share = float(np.mean(unseen[10:] == "zz"))
    assert result["out_of_range_rate"] == pytest.approx(share)
    assert result["histogram"]["current"][-1] == pytest.approx(share)
    assert result["histogram"]["reference"][-1] == 0.0
    assert result["histogram"]["labels"] == ["a", "b", "c", M.UNSEEN_LABEL]
    assert M.status_of(result, DEFAULTS) == "alert"
    json.dumps(result, allow_nan=False)

    # The chi-square p-value: current counts over the training categories against the reference shares.
    seen = unseen[10:][unseen[10:] != "zz"]
    counts = np.array([np.sum(seen == c) for c in ref.categories])
    expected = stats.chisquare(counts, ref.fractions * counts.sum())
    assert result["chi2_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9)

    few = M.categorical_drift(ref, np.array(["zz"] * 10, dtype=object), min_rows=50)
    assert few["not_enough_data"] and M.status_of(few, DEFAULTS) == "not_enough_data"


def test_categorical_psi_and_js_over_categories_plus_unseen():
    ref = M.categorical_reference(np.array(["x"] * 600 + ["y"] * 400, dtype=object))
    current = np.array(["x"] * 300 + ["y"] * 500 + ["new"] * 200, dtype=object)
    result = M.categorical_drift(ref, current, min_rows=50)
    assert result["psi"] == pytest.approx(M.psi(np.array([0.6, 0.4, 0.0]), np.array([0.3, 0.5, 0.2])), abs=1e-12)
    assert result["js_distance"] == pytest.approx(jensenshannon([0.6, 0.4, 0.0], [0.3, 0.5, 0.2], base=2), abs=1e-9)


def test_status_thresholds_and_switched_off_checks():
    base = {"rows": 1000, "not_enough_data": False, "psi": 0.15, "js_distance": 0.05, "ks_statistic": 0.05,
            "ks_pvalue": 0.5, "missing_rate_change": 0.0, "out_of_range_rate": 0.0}
    assert M.status_of(base, DEFAULTS) == "warn"
    assert M.status_of({**base, "psi": 0.25}, DEFAULTS) == "alert"
    assert M.status_of({**base, "psi": 0.25}, {"psi_alert": 0.3}) == "warn"
    assert M.status_of({**base, "psi": None, "js_distance": 0.21}, DEFAULTS) == "alert"
    assert M.status_of({**base, "psi": None, "js_distance": None}, {}) == "ok"
    assert M.status_of({**base, "psi": 0.01, "out_of_range_rate": 0.05}, DEFAULTS) == "alert"


def test_dataset_drift_share():
    assert M.dataset_drift({"a": "alert", "b": "alert", "c": "ok", "d": "warn"}, share=0.5)
    assert not M.dataset_drift({"a": "alert", "b": "ok", "c": "ok"}, share=0.5)
    assert M.dataset_drift({"a": "alert", "b": "ok", "c": "not_enough_data"}, share=0.5)
    assert not M.dataset_drift({"a": "not_enough_data"}, share=0.5)
    assert not M.dataset_drift({}, share=0.5)


# --- quality and agreement -----------------------------------------------------------------------

def test_regression_quality():
    truth = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    predicted = np.array([1.5, 2.0, 1.0, 4.0, np.nan])
    result = M.regression_quality(truth, predicted)
    assert result == {"mae": pytest.approx(2.5 / 3), "rmse": pytest.approx(math.sqrt(4.25 / 3)), "rows": 3}
    assert M.regression_quality([], [])["mae"] is None


def test_auc_by_hand_with_ties():
    # Positives 0.8, 0.4, 0.4; negatives 0.4, 0.1: pairs won 2 + 1 + 0.5 + 1 + 0.5 = 5 out of 6.
    labels = np.array(["yes", "yes", "yes", "no", "no"], dtype=object)
    scores = np.array([0.8, 0.4, 0.4, 0.4, 0.1])
    result = M.classification_quality(labels, scores, ["no", "yes"])
    assert result["auc"] == pytest.approx(5 / 6)
    assert result["rows"] == 5
    assert result["precision"] == pytest.approx(1 / 1) and result["recall"] == pytest.approx(1 / 3)


@pytest.mark.skipif(skm is None, reason="sklearn not installed")
def test_binary_quality_matches_sklearn():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, size=3_000)
    p = np.clip(np.round(0.3 * y + rng.uniform(0, 0.7, size=3_000), 2), 0, 1)  # rounded: many ties, some 0 and 1
    labels = np.where(y == 1, "1", "0").astype(object)
    result = M.classification_quality(labels, p, ["0", "1"])
    assert result["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, clipped), abs=1e-9)
    assert result["precision"] == pytest.approx(skm.precision_score(y, p >= 0.5), abs=1e-12)
    assert result["recall"] == pytest.approx(skm.recall_score(y, p >= 0.5), abs=1e-12)
    two_columns = M.classification_quality(labels, np.column_stack([1 - p, p]), ["0", "1"])
    assert two_columns == result


@pytest.mark.skipif(skm is None, reason="sklearn not installed")
def test_multiclass_quality_matches_sklearn():
    rng = np.random.default_rng(12)
    proba = rng.dirichlet(np.ones(4), size=2_000)
    y = rng.integers(0, 4, size=2_000)
    classes = ["a", "b", "c", "d"]
    labels = np.array(classes, dtype=object)[y]
    labels[:5] = None  # left out
    result = M.classification_quality(labels, proba, classes)
    assert result["rows"] == 1_995
    assert result["log_loss"] == pytest.approx(skm.log_loss(y[5:], proba[5:], labels=[0, 1, 2, 3]), abs=1e-9)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y[5:], proba[5:].argmax(axis=1)), abs=1e-12)


def test_classification_quality_labels_as_numbers_or_text():
    by_number = M.classification_quality(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.3, 0.6]), [0, 1])
    by_text = M.classification_quality(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.3, 0.6]), ["0", "1"])
    assert by_number == by_text
    assert by_number["auc"] == pytest.approx(0.75)


def test_agreement():
    a = np.array([1.0, 2.0, 3.0, np.nan])
    b = np.array([1.5, 2.0, 1.0, 0.0])
    result = M.agreement(a, b, task="regression")
    assert result["rows"] == 3
    assert result["mean_abs_diff"] == pytest.approx(2.5 / 3)
    assert result["p95_abs_diff"] == pytest.approx(np.percentile([0.5, 0.0, 2.0], 95))
    binary = M.agreement(np.array([0.9, 0.2, 0.6, 0.4]), np.array([0.7, 0.6, 0.51, 0.1]), task="binary")
    assert binary == {"rows": 4, "agreement_rate": 0.75}
    labels = M.agreement(np.array(["a", "b", None], dtype=object), np.array(["a", "c", "c"], dtype=object),
                         task="multiclass")
    assert labels == {"rows": 2, "agreement_rate": 0.5}
    matrix = M.agreement(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0.3, 0.7], [0.4, 0.6]]), task="multiclass")
    assert matrix == {"rows": 2, "agreement_rate": 0.5}
