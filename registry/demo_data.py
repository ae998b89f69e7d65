"""Realistic tabular problems for the demo and the tests, generated the same way for the same seed.

The relationships are invented but shaped like the real thing: a delivery gets slower with
distance, rush hour, rain and a busy courier, in a non-linear way a tree model must learn;
fraud is rare (about 3%) and concentrated in foreign, fast, night-time card use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ZONES = ("center", "north", "south", "east", "west", "airport")
_ZONE_MINUTES = {"center": 6.0, "north": 0.0, "south": 2.0, "east": -1.0, "west": 1.0, "airport": 12.0}
_ZONE_SHARE = (0.3, 0.2, 0.18, 0.14, 0.12, 0.06)

MERCHANT_CATEGORIES = ("grocery", "restaurants", "fuel", "fashion", "travel", "electronics", "gaming")
_MERCHANT_LOGIT = {"grocery": -1.0, "restaurants": -0.6, "fuel": -0.2, "fashion": 0.3, "travel": 0.8,
                   "electronics": 1.3, "gaming": 1.6}
_MERCHANT_SHARE = (0.3, 0.2, 0.15, 0.12, 0.08, 0.1, 0.05)


def delivery_times(rows: int = 2000, *, seed: int = 0) -> pd.DataFrame:
    """Regression: predict ``minutes`` from the order, the courier, the weather and the zone."""
    rng = np.random.default_rng(seed)
    distance = np.round(rng.gamma(2.2, 1.6, rows) + 0.3, 2)
    items = rng.integers(1, 12, rows)
    hour = rng.choice(np.arange(8, 24), rows)
    weekday = rng.integers(0, 7, rows)
    courier_load = rng.poisson(2.5, rows).astype(float)
    raining = (rng.random(rows) < 0.22).astype(int)
    zone = rng.choice(ZONES, rows, p=_ZONE_SHARE)

    rush = np.isin(hour, (12, 13, 19, 20)).astype(float)
    weekend = (weekday >= 5).astype(float)
    minutes = (
        9.0
        + 2.4 * distance
        + 0.9 * items
        + 7.0 * rush * (1 + 0.3 * weekend)
        + 1.8 * np.maximum(courier_load - 3, 0) ** 1.5
        + raining * (4.0 + 0.6 * distance)
        + np.vectorize(_ZONE_MINUTES.get)(zone)
        + rng.normal(0, 2.5, rows)
    )
    # Some couriers' apps do not report their load: the model has to cope with gaps.
    courier_load[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame({
        "distance_km": distance,
        "items": items,
        "hour": hour,
        "weekday": weekday,
        "courier_load": courier_load,
        "raining": raining,
        "zone": zone,
        "minutes": np.round(np.maximum(minutes, 4.0), 1),
    })


def card_fraud(rows: int = 2000, *, seed: int = 0) -> pd.DataFrame:
    """Binary classification: predict ``is_fraud`` (about 3% positive) from a card payment."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(3.4, 1.0, rows), 2)
    hour = rng.integers(0, 24, rows)
    merchant = rng.choice(MERCHANT_CATEGORIES, rows, p=_MERCHANT_SHARE)
    card_age_days = rng.exponential(500, rows).astype(int)
    country_mismatch = (rng.random(rows) < 0.06).astype(int)
    velocity_1h = rng.poisson(0.7, rows)

    night = ((hour <= 5) | (hour >= 23)).astype(float)
    logit = (
        -6.9
        + 3.2 * country_mismatch
        + 1.1 * velocity_1h
        + 1.8 * night
        + 0.9 * np.log(amount / 30)
        + 1.3 * np.vectorize(_MERCHANT_LOGIT.get)(merchant)
        + 1.6 * (card_age_days < 30)
    )
    is_fraud = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "amount": amount,
        "hour": hour,
        "merchant_category": merchant,
        "card_age_days": card_age_days,
        "country_mismatch": country_mismatch,
        "velocity_1h": velocity_1h,
        "is_fraud": is_fraud,
    })


# name -> (generator, target, task, categorical features)
PROBLEMS = {
    "delivery_times": (delivery_times, "minutes", "regression", ["zone"]),
    "card_fraud": (card_fraud, "is_fraud", "binary", ["merchant_category"]),
}


def write_csv(problem: str, path: Path, *, rows: int = 2000, seed: int = 0) -> Path:
    """Write one generated problem as CSV; the same arguments always give the same bytes."""
    generate = PROBLEMS[problem][0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed=seed).to_csv(path, index=False)
    return path
