"""Shadow scoring: after the reply is sent, shadow versions score the same instances in a
background thread; their outputs are logged with the primary's prediction ids, role
``shadow``. A slow or failing shadow only ever costs its own log entries."""

from __future__ import annotations

import logging
import queue
import threading
import time

logger = logging.getLogger(__name__)


class ShadowScorer:
    def __init__(self, config, metrics, prediction_log, outputs_of):
        self.metrics = metrics
        self.log = prediction_log
        self.outputs_of = outputs_of
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, config.shadow_queue))
        self._thread = threading.Thread(target=self._run, name="shadows", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, endpoint, instances: list, ids: list[str]) -> None:
        try:
            self._queue.put_nowait((endpoint, instances, ids))
        except queue.Full:
            self.metrics.shadow_skipped.inc()

    def _run(self) -> None:
        while True:
            endpoint, instances, ids = self._queue.get()
            for shadow in endpoint.shadows:
                started = time.perf_counter()
                try:
                    raw = shadow.predict(instances)
                except Exception:
                    self.metrics.shadow_failures.inc()
                    logger.warning("shadow %s v%s failed on %s", shadow.info.get("model"), shadow.info.get("version"),
                                   endpoint.name, exc_info=True)
                    continue
                seconds = time.perf_counter() - started
                version = shadow.info.get("version")
                count, latency = self.metrics.for_version(endpoint.name, version, "shadow")
                count.inc(len(instances))
                latency.observe(seconds)
                self.log.put(endpoint.name, endpoint.revision, shadow, "shadow", ids, instances,
                             self.outputs_of(shadow, raw), seconds * 1000)
