"""Reading rows of entities from the views' tiers: what both the portal (the online API, the
lookup box) and the serving process use.

A row is a dict holding each view's entity key (``{"store_id": 42}``). Each tier is asked once
for everything it holds (Redis: one MGET; SQL: one query per view). A tier that cannot be
reached makes its views' features missing and is named in ``unavailable``; it never raises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from serving.feature_store.spec import ViewSpec, entity_text


@dataclass
class Fetched:
    values: list[dict[str, Any]]  # per row: feature -> value (only what the store had)
    missing: list[list[str]]  # per row: features the store had no live value for
    event_times: list[dict[str, float | None]]  # per row: view name -> event time of its values
    unavailable: dict[str, str] = field(default_factory=dict)  # tier -> why it could not be read
    seconds: dict[str, float] = field(default_factory=dict)  # tier -> time its read took


def column_names(specs: list[ViewSpec]) -> list[list[str]]:
    """Per view, the names its features take in a row: the feature's own name, or
    ``view:feature`` where two views have a feature of the same name."""
    seen: dict[str, int] = {}
    for spec in specs:
        for name in spec.feature_names:
            seen[name] = seen.get(name, 0) + 1
    return [[name if seen[name] == 1 else f"{spec.name}:{name}" for name in spec.feature_names] for spec in specs]


def fetch(specs: list[ViewSpec], rows: list[dict[str, Any]], tier_of: Callable[[str], Any]) -> Fetched:
    names = column_names(specs)
    n = len(rows)
    values: list[dict[str, Any]] = [{} for _ in range(n)]
    missing: list[list[str]] = [[] for _ in range(n)]
    event_times: list[dict[str, float | None]] = [{} for _ in range(n)]
    unavailable: dict[str, str] = {}
    seconds: dict[str, float] = {}
    by_tier: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        by_tier.setdefault(spec.tier, []).append(index)
    for tier_name, indexes in by_tier.items():
        wanted, positions = [], []
        for index in indexes:
            spec = specs[index]
            key = spec.entity_key
            at = [i for i, row in enumerate(rows) if row.get(key) is not None]
            wanted.append((spec, [entity_text(rows[i][key]) for i in at]))
            positions.append(at)
        started = time.perf_counter()
        try:
            found = tier_of(tier_name).read(wanted)
        except Exception as exc:  # the tier is down: every feature it holds is missing
            unavailable[tier_name] = str(exc) or exc.__class__.__name__
            found = [[None] * len(entities) for _, entities in wanted]
        seconds[tier_name] = time.perf_counter() - started
        for index, at, results in zip(indexes, positions, found):
            spec, columns = specs[index], names[index]
            got = dict(zip(at, results))
            for i in range(n):
                result = got.get(i)
                if result is None:
                    missing[i] += columns
                    event_times[i][spec.name] = None
                    continue
                row_values, event_time = result
                event_times[i][spec.name] = event_time
                for column, value in zip(columns, row_values):
                    if value is None:
                        missing[i].append(column)
                    else:
                        values[i][column] = value
    return Fetched(values=values, missing=missing, event_times=event_times, unavailable=unavailable,
                   seconds=seconds)
