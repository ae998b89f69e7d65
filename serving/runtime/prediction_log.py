"""The prediction log: every prediction goes to the bounded Redis stream ``serving:predictions``
from a background thread. The reply never waits for Redis: a full queue or a down Redis
drops entries and counts them as lost."""

from __future__ import annotations

import logging
import queue
import threading
import time

import orjson

from serving.runtime.redis_conn import redis_connect

logger = logging.getLogger(__name__)

STREAM = "serving:predictions"
ERRORS_PREFIX = "serving:errors:"  # a hash per endpoint: minute (epoch seconds) -> error answers
ERRORS_TTL = 2 * 24 * 3600
BATCH = 500


class PredictionLog:
    def __init__(self, config, metrics):
        self.config = config
        self.metrics = metrics
        self.enabled = config.log_predictions
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, config.log_queue))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis = None

    def start(self) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def put(self, endpoint: str, revision: int, version, role: str, ids: list[str], instances: list,
            outputs: list, latency_ms: float) -> None:
        """Queue one request's predictions (one entry per instance, built off the request path)."""
        if not self.enabled:
            return
        try:
            self._queue.put_nowait((endpoint, revision, version, role, ids, instances, outputs, latency_ms, time.time()))
            self.metrics.log_queued.inc(len(ids))
        except queue.Full:
            self.metrics.log_lost.inc(len(ids))

    def error(self, endpoint: str) -> None:
        """Count an error answer, per endpoint and minute, for the portal's pages (off the reply's path)."""
        try:
            self._queue.put_nowait(("error", endpoint, time.time()))
        except queue.Full:
            pass

    def _run(self) -> None:
        while not self._stop.is_set() or not self._queue.empty():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            items = [first]
            while len(items) < BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(items)

    def _write(self, items: list) -> None:
        errors = [item for item in items if item[0] == "error"]
        items = [item for item in items if item[0] != "error"]
        count = sum(len(item[4]) for item in items)
        try:
            if self._redis is None:
                self._redis = redis_connect(self.config.redis_url)
            pipe = self._redis.pipeline(transaction=False)
            maxlen = self.config.log_maxlen
            for endpoint, revision, loaded, role, ids, instances, outputs, latency_ms, at in items:
                version, features = loaded.info, loaded.features
                common = {
                    "endpoint": endpoint, "revision": revision, "role": role,
                    "model_version_id": version.get("model_version_id") or "", "model": version.get("model") or "",
                    "version": version.get("version") or "", "latency_ms": round(latency_ms, 4), "at": at,
                }
                for pid, instance, output in zip(ids, instances, outputs):
                    pipe.xadd(STREAM, {**common, "prediction_id": pid,
                                       "inputs": orjson.dumps(instance if type(instance) is dict else dict(zip(features, instance))),
                                       "output": orjson.dumps(output)},
                              maxlen=maxlen, approximate=True)
            for _, endpoint, at in errors:
                key = f"{ERRORS_PREFIX}{endpoint}"
                pipe.hincrby(key, str(int(at // 60) * 60), 1)
                pipe.expire(key, ERRORS_TTL)
            pipe.execute()
            self.metrics.log_written.inc(count)
        except Exception as exc:
            self.metrics.log_lost.inc(count)
            self._redis = None
            logger.warning("prediction log: %d entries lost (%s)", count, exc)
            self._stop.wait(0.5)
