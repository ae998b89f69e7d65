"""Online features for an endpoint that names feature views: the replica's own handles on the
tiers, and building each instance from the store and the request.

The tiers are opened from the Config (never from Django): Redis on ``feature_redis_url`` with
a 0.2 s timeout, the SQL tier on a plain connection to ``feature_database``. A tier that fails
is not asked again for ``BREAKER_SECONDS``: requests meanwhile answer at once with defaults
and say so, instead of each waiting out a timeout.

An instance is built per model feature: the request's value when it gives one (``null`` is no
value), else the store's, else ``None``, which the model treats as missing (its own default).
Entity keys and view features the model does not take are dropped; any other key is refused
as an unknown feature, as it is without views.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from registry.model_code import InvalidInstances
from serving.feature_store import online
from serving.feature_store.redis import RedisTier, Unavailable, connect
from serving.feature_store.spec import ViewSpec

BREAKER_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.2


class Breaker:
    """A tier guarded by a circuit breaker: after a failure, reads fail at once until the pause
    is over; the first read after it tries the tier again."""

    def __init__(self, name: str, open_tier, pause: float = BREAKER_SECONDS):
        self.name = name
        self._open_tier = open_tier
        self._tier = None
        self.pause = pause
        self._until = 0.0
        self._reason = ""
        self._lock = threading.Lock()

    def read(self, wanted):
        if self._until and time.monotonic() < self._until:
            raise Unavailable(self._reason)
        try:
            if self._tier is None:
                with self._lock:
                    if self._tier is None:
                        self._tier = self._open_tier()
            found = self._tier.read(wanted)
        except Exception as exc:
            self._reason = str(exc) or exc.__class__.__name__
            self._until = time.monotonic() + self.pause
            raise
        self._until = 0.0
        return found


class FeatureTiers:
    """The replica's tiers, opened on first use (a replica serving no views opens nothing)."""

    def __init__(self, config, pause: float = BREAKER_SECONDS):
        self.config = config
        self._tiers = {"redis": Breaker("redis", self._redis, pause), "sql": Breaker("sql", self._sql, pause)}

    def _redis(self):
        url = getattr(self.config, "feature_redis_url", "")
        if not url:
            raise Unavailable("no Redis feature tier is configured (FEATURE_STORE_REDIS_URL)")
        return RedisTier(connect(url, timeout=REDIS_TIMEOUT_SECONDS))

    def _sql(self):
        from serving.feature_store.tiers import raw_sql_tier

        database = getattr(self.config, "feature_database", None)
        if not database:
            raise Unavailable("no SQL feature tier is configured")
        return raw_sql_tier(database)

    def tier_of(self, name: str):
        tier = self._tiers.get(name)
        if tier is None:
            raise Unavailable(f"no feature tier named {name!r}")
        return tier


@dataclass(frozen=True)
class FeaturePlan:
    """What one endpoint's requests need, worked out once at load time."""

    specs: tuple[ViewSpec, ...]
    model_features: tuple[str, ...]
    entity_keys: frozenset[str]
    droppable: frozenset[str]  # keys a request may carry that the model does not take
    accepted: frozenset[str]  # the model's features and the droppable keys
    fetched: frozenset[str]  # model features some view provides
    tiers: dict[str, str] = field(default_factory=dict)  # view id (text) -> tier it is read from

    @classmethod
    def of(cls, views: list[dict[str, Any]], model_features: list[str]) -> "FeaturePlan":
        specs = tuple(ViewSpec.of(v) for v in views)
        columns = {name for names in online.column_names(list(specs)) for name in names}
        keys = frozenset(spec.entity_key for spec in specs)
        wanted = set(model_features)
        return cls(specs=specs, model_features=tuple(model_features), entity_keys=keys,
                   droppable=frozenset((keys | columns) - wanted), accepted=frozenset(keys | columns | wanted),
                   fetched=frozenset(columns & wanted),
                   tiers={str(spec.id): spec.tier for spec in specs})


@dataclass
class Built:
    instances: list  # what the model sees
    info: list  # per instance: {"missing", "defaulted"} (None for an instance that is not an object)
    store: dict[str, Any]  # the reply's "feature_store"


def instances_build(plan: FeaturePlan, tiers: FeatureTiers, instances: list) -> Built:
    """Fetch every object instance's features in one read per tier and merge the request's
    values over them. Raises ``InvalidInstances`` for keys that are neither features nor
    entity keys."""
    rows = [instance if type(instance) is dict else {} for instance in instances]
    keys = plan.entity_keys
    if any(key in row for row in rows for key in keys):
        fetched = online.fetch(list(plan.specs), rows, tiers.tier_of)
    else:  # every feature is in the request: no tier is asked
        fetched = online.Fetched(values=[{} for _ in rows], missing=[[] for _ in rows],
                                 event_times=[{} for _ in rows])
    features = plan.model_features
    accepted, fetched_names = plan.accepted, plan.fetched
    built, info, errors = [], [], []
    for index, instance in enumerate(instances):
        if type(instance) is not dict:
            built.append(instance)
            info.append(None)
            continue
        for key in instance:
            if key not in accepted:
                errors.append((index, str(key), "unknown feature"))
        store = fetched.values[index]
        merged, defaulted = {}, []
        for name in features:
            value = instance.get(name)
            if value is None:
                value = store.get(name)
                if value is None:
                    defaulted.append(name)
            merged[name] = value
        built.append(merged)
        info.append({"missing": [name for name in fetched.missing[index] if name in fetched_names],
                     "defaulted": defaulted})
    if errors:
        raise InvalidInstances(errors)
    store_state: dict[str, Any] = {"available": not fetched.unavailable}
    if fetched.unavailable:
        store_state["unavailable"] = dict(fetched.unavailable)
    return Built(instances=built, info=info, store=store_state)
