"""Traffic numbers of an endpoint from its logged predictions: pure numpy, no ORM."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import numpy as np


def per_minute(rows: Iterable[tuple[dt.datetime, float]], *, start: dt.datetime, minutes: int) -> dict[str, list]:
    """Requests per minute and p50/p99 latency per minute, for ``minutes`` minutes from ``start``."""
    rows = list(rows)
    buckets: list[list[float]] = [[] for _ in range(minutes)]
    for at, latency in rows:
        index = int((at - start).total_seconds() // 60)
        if 0 <= index < minutes:
            buckets[index].append(latency)
    times = [start + dt.timedelta(minutes=i) for i in range(minutes)]
    return {
        "times": times,
        "requests": [len(b) for b in buckets],
        "p50": [float(np.percentile(b, 50)) if b else None for b in buckets],
        "p99": [float(np.percentile(b, 99)) if b else None for b in buckets],
    }


def summary(latencies: list[float], *, minutes: float, errors: int = 0) -> dict[str, Any]:
    n = len(latencies)
    return {
        "requests": n,
        "per_minute": n / minutes if minutes else 0.0,
        "errors": errors,
        "error_rate": errors / (n + errors) if n + errors else 0.0,
        "p50": float(np.percentile(latencies, 50)) if n else None,
        "p99": float(np.percentile(latencies, 99)) if n else None,
    }


def _decision(output: Any, task: str) -> Any:
    if task == "binary":
        return float(output) >= 0.5
    if task == "multiclass":
        if isinstance(output, dict):
            return output.get("label")
        return int(np.argmax(output)) if isinstance(output, list) else output
    return output


def _value(output: Any) -> float | None:
    if isinstance(output, (int, float)) and not isinstance(output, bool):
        return float(output)
    return None


def agreement(pairs: list[tuple[Any, Any]], task: str) -> dict[str, Any]:
    """How closely a shadow (or canary) follows the primary on the same requests: mean absolute
    difference for regression, share of equal decisions for classification."""
    n = len(pairs)
    if not n:
        return {"pairs": 0}
    if task == "regression":
        diffs = [abs(a - b) for a, b in ((_value(p), _value(s)) for p, s in pairs) if a is not None and b is not None]
        return {"pairs": n, "mean_abs_diff": float(np.mean(diffs)) if diffs else None}
    equal = sum(1 for p, s in pairs if _decision(p, task) == _decision(s, task))
    return {"pairs": n, "equal_share": equal / n}
