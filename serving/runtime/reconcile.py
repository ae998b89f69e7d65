"""Keeping the served table equal to the manifest, and telling Redis what this replica serves.

Three background threads: the reconciler (at start, every ``reconcile_seconds`` and at once on
a change notice), the change-notice subscriber (reconnects, never fatal) and the status
heartbeat (``serving:replica:<id>``). A version that fails to load is reported and the
endpoint's previous revision keeps serving.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from typing import Any, Callable

import orjson

from serving.runtime import control
from serving.runtime.endpoints import EMPTY, Endpoint, table_of
from serving.runtime.features import FeaturePlan
from serving.runtime.loader import LoadedVersion, version_load
from serving.runtime.redis_conn import redis_connect

logger = logging.getLogger(__name__)

STATUS_SECONDS = 2.0
STATUS_TTL_SECONDS = 10


def source_import(dotted: str) -> Callable[[], dict]:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def views_of(spec: dict[str, Any]) -> bytes:
    """The endpoint's feature views in a form that compares: a tier move changes it without a
    new revision."""
    return orjson.dumps(spec.get("feature_views") or [], option=orjson.OPT_SORT_KEYS)


def _version_key(version: dict[str, Any]) -> tuple:
    return (version.get("model_version_id"), version["model_uri"], bool(version.get("fast_path")))


class Reconciler:
    def __init__(self, config, metrics, source: Callable[[], dict] | None = None,
                 on_swap: Callable[[Any], None] | None = None):
        self.config = config
        self.metrics = metrics
        self.source = source or source_import(config.manifest_source)
        self.table = EMPTY
        self.ready = False
        self.errors: dict[str, str] = {}
        self._loaded: dict[tuple, LoadedVersion] = {}
        self._failed: dict[tuple, tuple[float, str]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- one pass --

    def reconcile_once(self) -> None:
        with self._lock:
            manifest = self.source() or {}
            wanted = manifest.get("endpoints") or {}
            current = self.table
            table: dict[str, Endpoint] = {}
            errors: dict[str, str] = {}
            for name, spec in wanted.items():
                old = current.get(name)
                revision = int(spec.get("revision") or 0)
                if old is not None and old.revision == revision and old.views == views_of(spec):
                    table[name] = old
                    continue
                try:
                    table[name] = self._endpoint_build(name, revision, spec)
                except Exception as exc:
                    errors[name] = f"revision {revision}: {exc}"
                    self.metrics.load_failures.labels(name).inc()
                    logger.warning("endpoint %s revision %s failed to load: %s", name, revision, exc)
                    if old is not None:
                        table[name] = old
            # One assignment: in-flight requests keep the table they read.
            self.table = table_of(table)
            self.errors = errors
            live = {_version_key(v.info) for e in table.values()
                    for v in (e.primary, e.canary, *e.shadows) if v is not None}
            self._loaded = {k: v for k, v in self._loaded.items() if k in live}
            self.ready = True

    def _endpoint_build(self, name: str, revision: int, spec: dict[str, Any]) -> Endpoint:
        primary = self._version(spec["primary"]) if spec.get("primary") else None
        canary_spec = spec.get("canary")
        canary = self._version(canary_spec) if canary_spec else None
        share = int(canary_spec.get("share") or 0) if canary_spec else 0
        if canary is not None and not 1 <= share <= 50:
            raise ValueError(f"a canary share must be 1 to 50 percent, not {share}")
        shadows = tuple(self._version(v) for v in spec.get("shadows") or ())
        views = views_of(spec)
        plan = None
        if spec.get("feature_views") and primary is not None:
            plan = FeaturePlan.of(spec["feature_views"], primary.features)
        return Endpoint(name=name, revision=revision, primary=primary, canary=canary, canary_share=share,
                        shadows=shadows, features=plan, views=views)

    def _version(self, version: dict[str, Any]) -> LoadedVersion:
        key = _version_key(version)
        found = self._loaded.get(key)
        if found is not None:
            return found
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed[0] < 30:
            raise RuntimeError(failed[1])
        try:
            loaded = version_load(version, cache_dir=self.config.cache_dir, tracking_uri=self.config.tracking_uri,
                                  device=self.config.device)
        except Exception as exc:
            message = f"{version.get('model')} version {version.get('version')} failed to load: {exc}"
            self._failed[key] = (time.monotonic(), message)
            raise RuntimeError(message) from exc
        self.metrics.load_seconds.labels(str(version.get("model")), str(version.get("version"))).set(loaded.load_seconds)
        for note in loaded.notes:
            logger.info("%s version %s: %s", version.get("model"), version.get("version"), note)
        self._loaded[key] = loaded
        return loaded

    # -- threads --

    def start(self) -> None:
        for target, name in ((self._reconcile_loop, "reconcile"), (self._subscribe_loop, "change-notices"),
                             (self._status_loop, "replica-status")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        # Leave at once rather than when the status expires: a deploy waiting on every replica
        # should not wait for one that has gone.
        try:
            redis_connect(self.config.redis_url).delete(control.replica_key(self.config.replica))
        except Exception:
            pass

    def wake(self) -> None:
        self._wake.set()

    def _reconcile_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.reconcile_once()
            except Exception:
                logger.exception("reconcile failed; serving what was loaded")
            self._wake.wait(self.config.reconcile_seconds)

    def _subscribe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = redis_connect(self.config.redis_url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(control.CHANGES)
                # Anything may have changed while we were not listening.
                self.wake()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self.wake()
            except Exception as exc:
                logger.info("change notices unavailable (%s); retrying", exc)
                self._stop.wait(1.0)

    def status(self) -> dict[str, Any]:
        return {
            "replica": self.config.replica, "host": self.config.hostname, "port": self.config.port,
            "pid": os.getpid(), "started_at": self.config.started_at, "ready": self.ready,
            "endpoints": {name: e.revision for name, e in self.table.items()},
            "errors": dict(self.errors), "at": time.time(),
            # What a tier move waits for: every replica reading each view from its new tier.
            "feature_tiers": {view: tier for e in self.table.values() if e.features is not None
                              for view, tier in e.features.tiers.items()},
        }

    def _status_loop(self) -> None:
        client = None
        while not self._stop.is_set():
            try:
                client = client or redis_connect(self.config.redis_url)
                if self.ready:
                    client.set(control.replica_key(self.config.replica), orjson.dumps(self.status()),
                               ex=STATUS_TTL_SECONDS)
            except Exception as exc:
                client = None
                logger.info("replica status not written (%s)", exc)
            self._stop.wait(STATUS_SECONDS)
