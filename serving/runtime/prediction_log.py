"""The prediction log: every prediction goes to the bounded Redis stream ``serving:predictions``
from a background thread. The reply never waits for Redis: a full queue or a down Redis
drops entries and counts them as lost.

One stream entry holds the predictions of the requests written together that share endpoint,
revision, role and version: ``prediction_ids``, ``inputs``, ``outputs``, ``latency_ms`` and
``at`` are JSON lists of equal length, in order. A burst of requests costs one entry, not one
per prediction. The drain job (``serving.jobs``) stores one row per prediction."""

from __future__ import annotations

import logging
import queue
import threading
import time

import orjson
import redis

from serving.runtime.redis_conn import redis_connect

logger = logging.getLogger(__name__)

STREAM = "serving:predictions"
ERRORS_PREFIX = "serving:errors:"  # a hash per endpoint: minute (epoch seconds) -> error answers
ERRORS_TTL = 2 * 24 * 3600
BATCH = 500
# After the first entry of a batch, wait this long for more: under load the thread then wakes
# and takes the GIL tens of times a second instead of once per request.
LINGER_SECONDS = 0.02


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
            if self._queue.qsize() < BATCH:
                self._stop.wait(LINGER_SECONDS)
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
            if items:
                self._send(*_xadds(items, self.config.log_maxlen))
            pipe = self._redis.pipeline(transaction=False)
            for _, endpoint, at in errors:
                key = f"{ERRORS_PREFIX}{endpoint}"
                pipe.hincrby(key, str(int(at // 60) * 60), 1)
                pipe.expire(key, ERRORS_TTL)
            if errors:
                pipe.execute()
            self.metrics.log_written.inc(count)
        except Exception as exc:
            self.metrics.log_lost.inc(count)
            self._redis = None
            logger.warning("prediction log: %d entries lost (%s)", count, exc)
            self._stop.wait(0.5)

    def _send(self, packed: bytes, replies: int) -> None:
        """Send already packed commands on one connection and read their replies."""
        pool = self._redis.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([packed])
            failure = None
            for _ in range(replies):
                try:
                    connection.read_response()
                except redis.ResponseError as exc:
                    failure = failure or exc
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        if failure is not None:
            raise failure


def _bulk(value) -> bytes:
    """One argument in Redis's protocol, encoded as redis-py encodes it."""
    if type(value) is not bytes:
        value = (repr(value) if isinstance(value, (int, float)) else str(value)).encode()
    return b"$%d\r\n%s\r\n" % (len(value), value)


_IDS, _INPUTS, _OUTPUTS, _FEATURES = _bulk(b"prediction_ids"), _bulk(b"inputs"), _bulk(b"outputs"), _bulk(b"features")
_LATENCY_MS, _AT = _bulk(b"latency_ms"), _bulk(b"at")
_STATIC_FIELDS = ("endpoint", "revision", "role", "model_version_id", "model", "version")


def _xadds(items: list, maxlen: int) -> tuple[bytes, int]:
    """One ``XADD STREAM MAXLEN ~ maxlen * field value ...`` per group of predictions that share
    endpoint, revision, role and version, packed by hand (redis-py's packer and reply parsing cost
    tens of microseconds a command, taken from the request thread's GIL). Returns the packed
    commands and how many there are."""
    head = b"".join([b"*30\r\n", _bulk(b"XADD"), _bulk(STREAM.encode()), _bulk(b"MAXLEN"), _bulk(b"~"),
                     _bulk(maxlen), _bulk(b"*")])
    groups: dict[tuple, tuple] = {}
    for endpoint, revision, loaded, role, ids, instances, outputs, latency_ms, at in items:
        key = (endpoint, revision, role, id(loaded))
        group = groups.get(key)
        if group is None:
            group = groups[key] = (endpoint, revision, role, loaded, [], [], [], [], [])
        n = len(ids)
        group[4].extend(ids)
        group[5].extend(instances)
        group[6].extend(outputs)
        group[7].extend([round(latency_ms, 4)] * n)
        group[8].extend([at] * n)
    chunks = []
    for endpoint, revision, role, loaded, ids, instances, outputs, latencies, ats in groups.values():
        version = loaded.info
        fields = (endpoint, revision, role, version.get("model_version_id") or "", version.get("model") or "",
                  version.get("version") or "")
        chunks += (head, *(_bulk(k) + _bulk(v) for k, v in zip(_STATIC_FIELDS, fields)),
                   _FEATURES, _bulk(orjson.dumps(loaded.features)),
                   _LATENCY_MS, _bulk(orjson.dumps(latencies)), _AT, _bulk(orjson.dumps(ats)),
                   _IDS, _bulk(orjson.dumps(ids)), _INPUTS, _bulk(orjson.dumps(instances)),
                   _OUTPUTS, _bulk(orjson.dumps(outputs)))
    return b"".join(chunks), len(groups)
