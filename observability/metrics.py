"""Drift and quality statistics for monitoring: pure numpy (and ``math``), no Django, no scipy.

Everything works on whole columns at once (numpy), never row by row in Python. Numeric columns
are float64 arrays with NaN for a missing value; categorical columns are object (or str) arrays
with None (or NaN) for a missing value. Every result is plain JSON-ready data (floats, lists,
None; never NaN).

References
    A model version's training data is summarised once (``numeric_reference``,
    ``categorical_reference``) and cached by the caller. A numeric reference keeps the
    reference's quantile bin edges (deciles by default) and its share per bin, its sorted
    values (for an exact KS test), its missing rate and its range; a categorical one keeps the
    categories seen in training with their shares.

Statistics (per feature, one window of served rows against the reference)
    missing_rate_change
        The window's share of missing values minus the reference's. A feature that stops
        arriving (a renamed field upstream) shows here first. Alert at +0.10.
    out_of_range_rate
        Numeric: the share of the window's values outside the training range [min, max];
        categorical: the share of values in a category never seen in training. Alert at 0.05.
    psi (Population Stability Index)
        ``sum((a - e) * ln(a / e))`` over the reference's bins, ``e`` the reference's share and
        ``a`` the window's. Shares are clipped below at ``epsilon`` = 1e-4 so that an empty bin
        costs a large but finite amount instead of infinity (the usual practice; 1e-4 is a
        common choice). Warn at 0.1, alert at 0.2: the industry convention (below 0.1 no
        significant change, 0.1–0.2 a moderate one, above 0.2 a significant one). Numeric PSI
        uses the reference's decile bins, so every reference bin holds about 10 %.
    ks_statistic, ks_pvalue (numeric only)
        The exact two-sample Kolmogorov–Smirnov statistic D (the largest gap between the two
        empirical CDFs, over every value of both samples, ties handled) and its asymptotic
        two-sided p-value, computed the way ``scipy.stats.ks_2samp(method="asymp")`` does: the
        distribution of the one-sample two-sided statistic D_n at n = round(m·n/(m+n))
        (Simard & L'Ecuyer's choice among the Durbin matrix, Pelz–Good and Smirnov formulas).
        A p-value below 0.05 alone would flag every feature of a big window (with a million
        rows a difference of 0.3 % in the CDF is "significant"), so the KS alert also asks for
        at least 100 rows and an effect of D >= 0.1.
    js_distance
        The Jensen–Shannon distance (square root of the divergence, base 2, so in [0, 1]) between
        the binned shares: symmetric and finite even for empty bins. Warn at 0.1, alert at 0.2.
    chi2_pvalue (categorical only)
        Pearson's chi-square goodness of fit of the window's counts in the training categories
        against the reference's shares (values of unseen categories are left out; they count in
        out_of_range_rate). Informational: with big windows it is near 0 for any change.

Status (``status_of``), with ``DEFAULT_THRESHOLDS`` (a monitor's thresholds override them)
    "alert" when psi >= 0.2, or KS p < 0.05 with >= 100 rows and D >= 0.1, or js >= 0.2, or the
    missing rate rose by >= 0.1, or >= 5 % of values are out of range; "warn" when psi >= 0.1 or
    js >= 0.1; else "ok". A window with fewer than ``min_rows`` (50) non-missing values is
    "not_enough_data" and never drift: its statistics are None (except a missing rate that
    rose by the threshold over at least ``min_rows`` rows, which still alerts: a feature that
    stopped arriving has no values to compare but is the clearest drift there is).
    Dataset drift (``dataset_drift``): at least half of the features with data are "alert".

Quality (``regression_quality``, ``classification_quality``) and agreement (``agreement``)
    MAE/RMSE; binary AUC (rank statistic, ties counted half, as sklearn's ``roc_auc_score``),
    log loss (probabilities clipped to [1e-15, 1 - 1e-15]), precision and recall of the positive
    class (``classes[1]``) at P >= 0.5; multiclass log loss and accuracy. Agreement between two
    models on the same requests: mean and 95th percentile of the absolute difference
    (regression) or the share of requests with the same predicted label (classification).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLDS = {
    "psi_warn": 0.1,
    "psi_alert": 0.2,
    "ks_pvalue": 0.05,
    "ks_min_rows": 100,
    "js_warn": 0.1,
    "js_alert": 0.2,
    "missing_rate_change": 0.1,
    "out_of_range_rate": 0.05,
    "dataset_drift_share": 0.5,
    "min_rows": 50,
}

PSI_EPSILON = 1e-4
KS_MIN_EFFECT = 0.1  # the KS statistic the KS alert needs besides a small p-value
LOG_LOSS_EPS = 1e-15
UNSEEN_LABEL = "(not seen in training)"  # the categorical histogram's last bucket

_STATISTICS = ("missing_rate", "missing_rate_change", "out_of_range_rate", "psi", "ks_statistic", "ks_pvalue",
               "js_distance")


# --- references ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NumericReference:
    """A numeric feature's training distribution, built once per model version."""

    edges: np.ndarray          # inner bin cut points; bin i holds edges[i-1] < v <= edges[i]
    fractions: np.ndarray      # the reference's share per bin (len(edges) + 1), over non-missing values
    sorted_values: np.ndarray  # the reference's non-missing values, sorted
    missing_rate: float
    low: float                 # training range
    high: float
    count: int


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical feature's training distribution, built once per model version."""

    categories: tuple[str, ...]  # seen in training, sorted
    fractions: np.ndarray        # share per category over non-missing values (same order)
    missing_rate: float
    count: int


def _float_column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (edges[i-1] < v <= edges[i]) of already sorted values."""
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], at_or_below, [len(sorted_values)])))


def numeric_reference(values, *, bins: int = 10) -> NumericReference:
    """Quantile bins (``bins`` of them before merging equal edges) of the non-missing values."""
    column = _float_column(values)
    missing = np.isnan(column)
    present = np.sort(column[~missing])
    total = len(column)
    if len(present) == 0:
        return NumericReference(edges=np.empty(0), fractions=np.ones(1), sorted_values=present,
                                missing_rate=1.0 if total else 0.0, low=math.nan, high=math.nan, count=total)
    # Edges are reference values (the inverted CDF), so a value repeated in the reference (a point
    # mass: 0 of a count, a default) never gets an empty bin interpolated next to it.
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    quantiles = np.quantile(present, levels, method="inverted_cdf") if bins > 1 else np.empty(0)
    edges = np.unique(quantiles[np.isfinite(quantiles)])
    # An edge at the maximum would leave the last bin empty: drop it (bins are closed on the right).
    edges = edges[edges < present[-1]]
    fractions = _bin_counts(present, edges) / len(present)
    return NumericReference(edges=edges, fractions=fractions, sorted_values=present,
                            missing_rate=float(missing.mean()), low=float(present[0]), high=float(present[-1]),
                            count=total)


def _categorical_split(values) -> tuple[np.ndarray, np.ndarray]:
    """(missing mask, the non-missing values as a str array)."""
    array = np.asarray(values)
    if array.dtype.kind in "US":
        array = array.ravel()
        return np.zeros(len(array), dtype=bool), array.astype(str)
    array = np.asarray(values, dtype=object).ravel()
    with np.errstate(invalid="ignore"):
        missing = np.equal(array, None) | np.not_equal(array, array)  # None, or NaN (never equal to itself)
    return missing, array[~missing].astype(str)


def categorical_reference(values) -> CategoricalReference:
    missing, present = _categorical_split(values)
    categories, counts = np.unique(present, return_counts=True)
    total = len(missing)
    fractions = counts / counts.sum() if len(counts) else np.empty(0)
    return CategoricalReference(categories=tuple(str(c) for c in categories), fractions=fractions,
                                missing_rate=float(missing.mean()) if total else 0.0, count=total)


# --- distances between two distributions -------------------------------------------------------

def psi(expected: np.ndarray, actual: np.ndarray, *, epsilon: float = PSI_EPSILON) -> float:
    """Population Stability Index of two vectors of shares over the same bins.

    ``sum((a - e) * ln(a / e))`` with both shares clipped below at ``epsilon`` (1e-4 by default),
    so that a bin empty on one side adds a large, finite amount rather than infinity.
    """
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(p, q) -> float:
    """Jensen–Shannon distance, base 2 (0 for equal distributions, 1 for disjoint ones).

    ``p`` and ``q`` are counts or shares over the same bins; each is normalised to sum to 1.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0

    def kl(x: np.ndarray) -> float:
        positive = x > 0
        return float(np.sum(x[positive] * np.log(x[positive] / m[positive])))

    divergence = (kl(p) + kl(q)) / 2.0 / math.log(2.0)
    return math.sqrt(max(divergence, 0.0))


# --- the Kolmogorov–Smirnov test -----------------------------------------------------------------

def _rank_right(sorted_values: np.ndarray) -> np.ndarray:
    """For each element of a sorted array, how many elements are <= it (ties get the same count)."""
    n = len(sorted_values)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    last_of_group = np.empty(n, dtype=bool)
    last_of_group[-1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=last_of_group[:-1])
    if last_of_group.all():  # no ties: the usual case for continuous features
        return np.arange(1, n + 1, dtype=np.int64)
    ends = np.flatnonzero(last_of_group) + 1
    group = np.concatenate(([0], np.cumsum(last_of_group[:-1])))
    return ends[group]


def _counts_at_or_below(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted x and y: (#y <= x_i for each i, #x <= y_j for each j), searching only the shorter
    array's values in the longer one (x_i <= y_j exactly when fewer than j + 1 values of y are < x_i)."""
    if len(x) > len(y):
        y_at_x, x_at_y = _counts_at_or_below(y, x)
        return x_at_y, y_at_x
    y_at_x = np.searchsorted(y, x, side="right")
    below = np.searchsorted(y, x, side="left")  # x_i <= y_j  <=>  below_i <= j
    x_at_y = np.cumsum(np.bincount(below, minlength=len(y) + 1)[:len(y)])
    return y_at_x, x_at_y


def ks_statistic_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| over every value of both samples; ``a`` and ``b`` sorted, without NaN."""
    n1, n2 = len(a), len(b)
    b_at_a, a_at_b = _counts_at_or_below(a, b)
    # The same differences, value for value, as scipy's (i / n1 - j / n2 at each sample value).
    diff_a = _rank_right(a) / n1 - b_at_a / n2
    diff_b = a_at_b / n1 - _rank_right(b) / n2
    largest = max(float(diff_a.max()), float(diff_b.max()))
    smallest = min(float(diff_a.min()), float(diff_b.min()))
    return max(largest, min(max(-smallest, 0.0), 1.0))


def ks_two_sample(reference_sorted: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and asymptotic two-sided p-value, as ``scipy.stats.ks_2samp(ref,
    cur, method="asymp")`` computes them.

    ``reference_sorted`` must be sorted (a NumericReference's ``sorted_values``); ``current`` need
    not be. NaN in ``current`` are dropped. The p-value is the survival function of the
    one-sample two-sided KS statistic D_n at n = round(m·n / (m + n)), m >= n the two sizes.
    Returns (None, None) when either sample is empty.
    """
    a = np.asarray(reference_sorted, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    b = np.sort(b[~np.isnan(b)])
    if len(a) == 0 or len(b) == 0:
        return None, None  # type: ignore[return-value]
    d = ks_statistic_sorted(a, b)
    big, small = (float(len(a)), float(len(b))) if len(a) >= len(b) else (float(len(b)), float(len(a)))
    en = big * small / (big + small)
    p = kstwo_sf(d, round(en))
    return d, p


# Simard & L'Ecuyer (2011), "Computing the Two-Sided Kolmogorov-Smirnov Distribution": which method
# computes P(D_n >= d) for which (n, d), with the cut-offs scipy uses.

_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_LOG = -708.3964185322641  # log of the smallest normal double
_SCALE_EXP = 128
_SCALE = 2.0 ** _SCALE_EXP
_SMALL_K = 30
# r(k) = log(k!) - ((k + 1/2) log k - k + log sqrt(2 pi)), exactly for small k
_STIRLING_REMAINDER = np.array([0.0] + [math.lgamma(k + 1) - ((k + 0.5) * math.log(k) - k + _LOG_SQRT_2PI)
                                        for k in range(1, _SMALL_K)])


def _stirling_remainder(k: np.ndarray) -> np.ndarray:
    """r(k) = log(k!) - ((k+1/2) log k - k + log sqrt(2 pi)) for integers k >= 1 (array)."""
    k = np.asarray(k, dtype=np.int64)
    out = np.empty(k.shape, dtype=np.float64)
    small = k < _SMALL_K
    out[small] = _STIRLING_REMAINDER[k[small]]
    big = 1.0 / k[~small].astype(np.float64)
    big2 = big * big
    # Stirling's series: 1/(12k) - 1/(360k^3) + 1/(1260k^5) - 1/(1680k^7)
    out[~small] = big * (1.0 / 12 + big2 * (-1.0 / 360 + big2 * (1.0 / 1260 - big2 / 1680)))
    return out


def _log_factorial_over_power(n: int) -> float:
    """log(n! / n^n)."""
    return 0.5 * math.log(n) - n + _LOG_SQRT_2PI + float(_stirling_remainder(np.array([n]))[0])


def _smirnov_sf(n: int, x: float) -> float:
    """P(D_n^+ >= x), the one-sided statistic, by the Birnbaum–Tingey sum (all terms positive).

    x · sum_{v=0}^{floor(n(1-x))} C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v), each term computed
    in logs with the n log n parts cancelled out analytically (Stirling), so it stays accurate
    for large n.
    """
    if n == 1:
        return 1.0 - x
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    nx = n * x
    if nx <= 1.0:  # x <= 1/n
        return 1.0 - x * (1.0 + x) ** (n - 1)
    if -2.0 * n * x * x < _MIN_LOG:
        return 0.0
    if nx >= n - 1:  # x >= 1 - 1/n
        return (1.0 - x) ** n
    if n > 1_000_000:  # scipy's approximation for huge n: exp(-(6nx + 1)^2 / 18n)
        return math.exp(-((6.0 * nx + 1.0) ** 2) / 18.0 / n)
    last = n - math.floor(nx) - 1  # largest v with 1 - x - v/n > 0
    v = np.arange(1, last + 1, dtype=np.int64)
    vf = v.astype(np.float64)
    rest = n - vf
    ratio = nx / rest
    log_tail = np.where(ratio < 0.5, np.log1p(-np.minimum(ratio, 0.5)), np.log(np.maximum(rest - nx, 1e-300) / rest))
    log_terms = (math.log(x) + 1.5 * math.log(n) - 1.5 * np.log(vf) - 0.5 * np.log(rest) - _LOG_SQRT_2PI
                 + float(_stirling_remainder(np.array([n]))[0]) - _stirling_remainder(v) - _stirling_remainder(n - v)
                 + (vf - 1.0) * np.log1p(nx / vf) + rest * log_tail)
    first = n * math.log1p(-x)  # v = 0: x * x^-1 * (1 - x)^n
    return float(math.exp(first) + np.sum(np.exp(log_terms)))


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) exactly, by Durbin's matrix (Marsaglia, Tsang & Wang 2003): n!/n^n (H^n)_kk."""
    nd = n * d
    k = math.ceil(nd)
    h = k - nd
    m = 2 * k - 1
    inverse_factorial = np.concatenate(([1.0], np.cumprod(1.0 / np.arange(1, m + 1))))  # 1/j!, j = 0..m
    rows, cols = np.indices((m, m))
    lag = rows - cols + 1
    H = np.where(lag >= 0, inverse_factorial[np.clip(lag, 0, m)], 0.0)
    powers = np.arange(1, m + 1)
    first_column = (1.0 - h ** powers) * inverse_factorial[1:]
    H[:, 0] = first_column
    H[-1, :] = first_column[::-1]
    H[-1, 0] = (1.0 - 2.0 * h ** m + max(0.0, 2.0 * h - 1.0) ** m) * inverse_factorial[m]

    # H^n by squaring, keeping both the running power and the product scaled (exponent base 2).
    result, result_exp = np.eye(m), 0
    base, base_exp = H, 0
    e = n
    while e:
        if e & 1:
            result = result @ base
            result_exp += base_exp
            if abs(result[k - 1, k - 1]) > _SCALE:
                result /= _SCALE
                result_exp += _SCALE_EXP
        e >>= 1
        if e:
            base = base @ base
            base_exp *= 2
            if abs(base[k - 1, k - 1]) > _SCALE:
                base /= _SCALE
                base_exp += _SCALE_EXP
    centre = float(result[k - 1, k - 1])
    if centre <= 0.0:
        return 0.0
    return math.exp(math.log(centre) + result_exp * _LN2 + _log_factorial_over_power(n))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz & Good (1976)'s approximation of P(D_n <= x): Li-Chien/Korolyuk's expansion in 1/sqrt(n)
    (K0 + K1/n^(1/2) + K2/n + K3/n^(3/2)), each K written in its small-z theta-function form."""
    z = math.sqrt(n) * x
    z2 = z * z
    log_q = -math.pi ** 2 / 8.0 / z2
    if log_q < -708.0:
        return 0.0
    pi2, pi4, pi6 = math.pi ** 2, math.pi ** 4, math.pi ** 6
    top = math.ceil(16.0 * z / math.pi)
    # Sums over odd m = 2k - 1 of c(m) q^(m^2), q = exp(-pi^2 / (8 z^2)).
    m = (2.0 * np.arange(1, top + 1) - 1.0)
    m2 = m * m
    weights = np.exp(log_q * m2)
    k0 = float(np.sum(weights))
    k1 = float(np.sum((pi2 / 4.0 * m2 - z2) * weights))
    k2 = float(np.sum((6 * z ** 6 + 2 * z ** 4 + (2 * z ** 4 - 5 * z2) * pi2 / 4.0 * m2
                       + pi4 * (1 - 2 * z2) / 16.0 * m2 * m2) * weights))
    k3 = float(np.sum((-30 * z ** 6 - 90 * z ** 8 + pi2 * (135 * z ** 4 - 96 * z ** 6) / 4.0 * m2
                       + pi4 * (212 * z ** 4 - 60 * z2) / 16.0 * m2 * m2
                       + pi6 * (5 - 30 * z2) / 64.0 * m2 * m2 * m2) * weights))
    root_2pi = math.sqrt(2.0 * math.pi)
    k0 *= root_2pi / z
    k1 *= root_2pi / (6 * z ** 4)
    k2 *= root_2pi / (72 * z ** 7)
    k3 *= root_2pi / (6480 * z ** 10)
    # Terms over every integer j >= 1 with w = exp(-pi^2 / (2 z^2)).
    j2 = np.arange(1, top + 1, dtype=np.float64) ** 2
    w = np.exp(-pi2 / 2.0 / z2 * j2)
    k2 += float(np.sum(j2 * w)) * pi2 * root_2pi / (-36 * z ** 3)
    k3 += float(np.sum((3 * z2 - pi2 * j2) * j2 * w)) * pi2 * root_2pi / (216 * z ** 6)
    return k0 + k1 / math.sqrt(n) + k2 / n + k3 / n ** 1.5


def _clip01(p: float) -> float:
    return min(max(p, 0.0), 1.0)


def kstwo_sf(d: float, n: int) -> float:
    """P(D_n >= d) for the one-sample two-sided KS statistic D_n (scipy's ``kstwo.sf(d, n)``)."""
    if n < 1:
        return math.nan
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 1.0:  # Ruben & Gambino: P(D_n < d) = n!/n^n (2t - 1)^n for 1/(2n) <= d <= 1/n
        if t <= 0.5:
            return 1.0
        return _clip01(1.0 - math.exp(_log_factorial_over_power(n) + n * math.log(2.0 * t - 1.0)))
    if t >= n - 1:  # Ruben & Gambino
        return _clip01(2.0 * (1.0 - d) ** n)
    if d >= 0.5:  # the two one-sided events cannot both happen: exactly twice the one-sided tail
        return _clip01(2.0 * _smirnov_sf(n, d))
    nd2 = t * d
    if n <= 140:
        if nd2 <= 4.0:
            return _clip01(1.0 - _durbin_cdf(n, d))
        return _clip01(2.0 * _smirnov_sf(n, d))  # Miller's approximation
    if nd2 >= 370.0:
        return 0.0
    if nd2 >= 2.2:
        return _clip01(2.0 * _smirnov_sf(n, d))
    if n <= 100_000 and n * d ** 1.5 <= 1.4:
        cdf = _durbin_cdf(n, d)
    else:
        cdf = _pelz_good_cdf(n, d)
    return _clip01(1.0 - cdf)


# --- chi-square ----------------------------------------------------------------------------------

def _regularized_gamma_upper(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a series for x < a + 1, Lentz's continued fraction beyond."""
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return _clip01(1.0 - math.exp(log_prefix) * total)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    dd = 1.0 / b
    h = dd
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        dd = an * dd + b
        dd = tiny if abs(dd) < tiny else dd
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        dd = 1.0 / dd
        delta = dd * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return _clip01(math.exp(log_prefix) * h)


def chi2_sf(statistic: float, dof: int) -> float:
    return _regularized_gamma_upper(dof / 2.0, statistic / 2.0)


def chi_square_pvalue(observed: np.ndarray, expected_fractions: np.ndarray) -> float | None:
    """Pearson chi-square goodness of fit of counts against shares (scipy.stats.chisquare's p)."""
    observed = np.asarray(observed, dtype=np.float64)
    fractions = np.asarray(expected_fractions, dtype=np.float64)
    total = observed.sum()
    if len(observed) < 2 or total <= 0:
        return None
    expected = fractions / fractions.sum() * total
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return chi2_sf(statistic, len(observed) - 1)


# --- drift of one feature ------------------------------------------------------------------------

def _empty_result(rows: int, missing_rate: float | None, missing_rate_change: float | None) -> dict:
    result = {key: None for key in _STATISTICS}
    result.update(rows=rows, missing_rate=missing_rate, missing_rate_change=missing_rate_change, histogram=None,
                  not_enough_data=True)
    return result


def _finite_or_none(value):
    return None if value is None or not math.isfinite(value) else float(value)


def numeric_drift(ref: NumericReference, current: np.ndarray, *, min_rows: int) -> dict:
    """Drift of one numeric feature's window against its reference (see the module's docstring)."""
    column = _float_column(current)
    rows = len(column)
    missing = np.isnan(column)
    missing_rate = float(missing.mean()) if rows else None
    values = column[~missing] if missing_rate else column
    if len(values) < max(min_rows, 1) or len(ref.sorted_values) == 0:
        enough_rows = rows >= max(min_rows, 1)
        return _empty_result(rows, missing_rate if enough_rows else None,
                             missing_rate - ref.missing_rate if enough_rows else None)
    values = np.sort(values)
    counts = _bin_counts(values, ref.edges)
    fractions = counts / len(values)
    out_of_range = (np.searchsorted(values, ref.low, side="left")
                    + len(values) - np.searchsorted(values, ref.high, side="right"))
    d = ks_statistic_sorted(ref.sorted_values, values)
    big, small = sorted((float(len(ref.sorted_values)), float(len(values))), reverse=True)
    pvalue = kstwo_sf(d, round(big * small / (big + small)))
    return {
        "rows": rows,
        "missing_rate": missing_rate,
        "missing_rate_change": missing_rate - ref.missing_rate,
        "out_of_range_rate": float(out_of_range / len(values)),
        "psi": psi(ref.fractions, fractions),
        "ks_statistic": float(d),
        "ks_pvalue": _finite_or_none(pvalue),
        "js_distance": js_distance(ref.fractions, fractions),
        "histogram": {"edges": ref.edges.tolist(), "reference": ref.fractions.tolist(),
                      "current": fractions.tolist()},
        "not_enough_data": False,
    }


def categorical_drift(ref: CategoricalReference, current: np.ndarray, *, min_rows: int) -> dict:
    """Drift of one categorical feature's window against its reference.

    PSI and JS are over the training categories plus one "unseen" bucket (the reference's share
    there is 0); out_of_range_rate is the share of unseen values; KS does not apply (None) and
    chi2_pvalue is added. The histogram lists the training ``categories``; its ``reference`` and
    ``current`` shares have one more entry at the end, the unseen bucket; ``labels`` names every
    entry (the categories, then ``UNSEEN_LABEL``).
    """
    missing, present = _categorical_split(current)
    rows = len(missing)
    missing_rate = float(missing.mean()) if rows else None
    if len(present) < max(min_rows, 1) or not ref.categories:
        enough_rows = rows >= max(min_rows, 1)
        result = _empty_result(rows, missing_rate if enough_rows else None,
                               missing_rate - ref.missing_rate if enough_rows else None)
        result["chi2_pvalue"] = None
        return result
    categories = np.asarray(ref.categories, dtype=str)
    order = np.argsort(categories, kind="stable")
    sorted_categories = categories[order]
    k = len(categories)
    position = np.minimum(np.searchsorted(sorted_categories, present), k - 1)
    seen = sorted_categories[position] == present
    index = np.where(seen, order[position], k)
    counts = np.bincount(index, minlength=k + 1)
    fractions = counts / len(present)
    reference = np.append(np.asarray(ref.fractions, dtype=np.float64), 0.0)
    chi2 = chi_square_pvalue(counts[:k], ref.fractions) if counts[:k].sum() > 0 else None
    return {
        "rows": rows,
        "missing_rate": missing_rate,
        "missing_rate_change": missing_rate - ref.missing_rate,
        "out_of_range_rate": float(counts[k] / len(present)),
        "psi": psi(reference, fractions),
        "ks_statistic": None,
        "ks_pvalue": None,
        "chi2_pvalue": _finite_or_none(chi2),
        "js_distance": js_distance(reference, fractions),
        "histogram": {"categories": list(ref.categories), "labels": [*ref.categories, UNSEEN_LABEL],
                      "reference": reference.tolist(), "current": fractions.tolist()},
        "not_enough_data": False,
    }


# --- status --------------------------------------------------------------------------------------

def _at_least(value, limit) -> bool:
    return value is not None and limit is not None and value >= limit


def status_of(result: dict, thresholds: dict) -> str:
    """"ok", "warn", "alert" or "not_enough_data" for one feature's result (thresholds override the
    defaults; a statistic that is None, because its check is off or it does not apply, never counts)."""
    t = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    missing_alert = _at_least(result.get("missing_rate_change"), t["missing_rate_change"])
    if result.get("not_enough_data"):
        return "alert" if missing_alert else "not_enough_data"
    pvalue, d, rows = result.get("ks_pvalue"), result.get("ks_statistic"), result.get("rows") or 0
    ks_alert = (pvalue is not None and d is not None and t["ks_pvalue"] is not None and pvalue < t["ks_pvalue"]
                and rows >= (t["ks_min_rows"] or 0) and d >= KS_MIN_EFFECT)
    if (_at_least(result.get("psi"), t["psi_alert"]) or ks_alert or _at_least(result.get("js_distance"), t["js_alert"])
            or missing_alert or _at_least(result.get("out_of_range_rate"), t["out_of_range_rate"])):
        return "alert"
    if _at_least(result.get("psi"), t["psi_warn"]) or _at_least(result.get("js_distance"), t["js_warn"]):
        return "warn"
    return "ok"


def dataset_drift(statuses: dict[str, str], *, share: float) -> bool:
    """True when at least ``share`` of the features with data are "alert"."""
    judged = [s for s in statuses.values() if s != "not_enough_data"]
    if not judged:
        return False
    return sum(s == "alert" for s in judged) >= share * len(judged)


# --- quality and agreement ------------------------------------------------------------------------

def regression_quality(y_true, y_pred) -> dict:
    """MAE and RMSE over the rows where both the label and the prediction are numbers."""
    truth, predicted = _float_column(y_true), _float_column(y_pred)
    keep = np.isfinite(truth) & np.isfinite(predicted)
    error = truth[keep] - predicted[keep]
    rows = int(keep.sum())
    if rows == 0:
        return {"mae": None, "rmse": None, "rows": 0}
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error * error))), "rows": rows}


def _class_index(labels, classes) -> np.ndarray:
    """Index of each label in ``classes`` (-1 when missing or unknown); compared as values, then as text."""
    labels = np.asarray(labels, dtype=object).ravel()
    index = np.full(len(labels), -1, dtype=np.int64)
    for j, cls in enumerate(classes):
        with np.errstate(invalid="ignore"):
            index[(index < 0) & np.equal(labels, cls)] = j
    unmatched = index < 0
    if unmatched.any():
        missing, _ = _categorical_split(labels)
        text = np.where(missing, "", labels).astype(str)
        for j, cls in enumerate(classes):
            index[unmatched & ~missing & (text == str(cls))] = j
    return index


def _average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    n = len(scores)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], n)
    group = np.cumsum(np.concatenate(([True], ordered[1:] != ordered[:-1]))) - 1
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Mann–Whitney rank statistic: the probability that a positive scores above a negative, ties 1/2."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_quality(y_true_labels, proba_positive_or_matrix, classes) -> dict:
    """Binary (a vector of P(classes[1]), or a two-column matrix): auc, log_loss, precision and
    recall of classes[1] at P >= 0.5; multiclass (one column per class, in ``classes``' order):
    log_loss and accuracy. Rows whose label is missing or not in ``classes``, or whose
    probabilities are not numbers, are left out; ``rows`` counts the others."""
    classes = list(classes)
    proba = np.asarray(proba_positive_or_matrix, dtype=np.float64)
    index = _class_index(y_true_labels, classes)
    if proba.ndim == 2 and proba.shape[1] == 2 and len(classes) == 2:
        proba = proba[:, 1]
    if proba.ndim == 1:
        keep = (index >= 0) & np.isfinite(proba)
        positive = index[keep] == 1
        p = proba[keep]
        rows = int(keep.sum())
        if rows == 0:
            return {"auc": None, "log_loss": None, "precision": None, "recall": None, "rows": 0}
        clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
        log_loss = float(-np.mean(np.where(positive, np.log(clipped), np.log1p(-clipped))))
        predicted = p >= 0.5
        true_positive = int(np.sum(predicted & positive))
        return {"auc": roc_auc(positive, p), "log_loss": log_loss,
                "precision": true_positive / int(predicted.sum()) if predicted.any() else None,
                "recall": true_positive / int(positive.sum()) if positive.any() else None,
                "rows": rows}
    keep = (index >= 0) & np.all(np.isfinite(proba), axis=1)
    rows = int(keep.sum())
    if rows == 0:
        return {"log_loss": None, "accuracy": None, "rows": 0}
    p = proba[keep]
    truth = index[keep]
    chosen = np.clip(p[np.arange(rows), truth], LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return {"log_loss": float(-np.mean(np.log(chosen))), "accuracy": float(np.mean(p.argmax(axis=1) == truth)),
            "rows": rows}


def _predicted_labels(values: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, missing mask) of one model's outputs: argmax of a matrix, P >= 0.5 of a binary vector
    of floats, else the values themselves."""
    if values.ndim == 2:
        finite = np.all(np.isfinite(values), axis=1)
        return values.argmax(axis=1), ~finite
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        return (values >= 0.5 if task == "binary" else values), missing
    missing, _ = _categorical_split(values)
    return np.where(missing, "", values.astype(object)).astype(str), missing


def agreement(primary: np.ndarray, other: np.ndarray, *, task: str) -> dict:
    """How two models' answers to the same requests compare. Regression: mean and 95th percentile of
    |primary - other|; classification ("binary", "multiclass"): the share with the same label."""
    a, b = np.asarray(primary), np.asarray(other)
    if task == "regression":
        a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        keep = np.isfinite(a) & np.isfinite(b)
        diff = np.abs(a[keep] - b[keep])
        if len(diff) == 0:
            return {"rows": 0, "mean_abs_diff": None, "p95_abs_diff": None}
        return {"rows": int(len(diff)), "mean_abs_diff": float(diff.mean()),
                "p95_abs_diff": float(np.percentile(diff, 95))}
    labels_a, missing_a = _predicted_labels(a, task)
    labels_b, missing_b = _predicted_labels(b, task)
    keep = ~missing_a & ~missing_b
    rows = int(keep.sum())
    if rows == 0:
        return {"rows": 0, "agreement_rate": None}
    return {"rows": rows, "agreement_rate": float(np.mean(labels_a[keep] == labels_b[keep]))}
