"""The Redis tier: low latency.

One string per entity and view, ``f:<view id>:<entity>``, holding the packed record (see
``spec.Codec``): no field names, no per-feature keys, expiring at event time + TTL (``PXAT``).
Reading any number of entities across any number of views is one ``MGET``: one round trip.
The tier lives in its own logical database (``FEATURE_STORE_REDIS_URL``), never the cache's or
the broker's, so clearing either never deletes features.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator

import redis as redis_lib

from serving.feature_store.spec import ViewSpec

WRITE_BATCH = 2000
SCAN_BATCH = 2000


class Unavailable(Exception):
    """The tier cannot be reached; the message says why."""


def view_prefix(view_id: int) -> bytes:
    return b"f:%d:" % view_id


def key_of(view_id: int, entity: str) -> bytes:
    return b"f:%d:%s" % (view_id, entity.encode())


def connect(url: str, *, timeout: float = 0.5) -> redis_lib.Redis:
    """A client with short timeouts: a feature read that cannot be answered fast is a missing
    feature, never a stalled prediction."""
    return redis_lib.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                    health_check_interval=30)


class RedisTier:
    name = "redis"

    def __init__(self, client: redis_lib.Redis):
        self.client = client

    def _guard(self, call, *args):
        try:
            return call(*args)
        except (redis_lib.ConnectionError, redis_lib.TimeoutError, OSError) as exc:
            raise Unavailable(f"the Redis feature tier is unreachable: {exc}") from None

    # -- writes --

    def write(self, spec: ViewSpec, records: Iterable[tuple[str, bytes, float]]) -> int:
        """Store ``(entity, packed record, event time)`` rows; a value already past its TTL is
        not written. Returns how many were written."""
        written = 0
        pipe = self.client.pipeline(transaction=False)
        pending = 0
        prefix = view_prefix(spec.id)
        ttl = spec.ttl_seconds
        now = time.time()
        for entity, data, event_time in records:
            key = prefix + entity.encode()
            if ttl:
                expires = event_time + ttl
                if expires <= now:
                    continue
                pipe.set(key, data, pxat=int(expires * 1000))
            else:
                pipe.set(key, data)
            pending += 1
            if pending >= WRITE_BATCH:
                self._guard(pipe.execute)
                written += pending
                pending = 0
        if pending:
            self._guard(pipe.execute)
            written += pending
        return written

    def delete_view(self, spec: ViewSpec) -> int:
        deleted = 0
        for keys in self._key_batches(spec):
            deleted += self._guard(self.client.unlink, *keys)
        return deleted

    # -- reads --

    def read(self, wanted: list[tuple[ViewSpec, list[str]]]) -> list[list[tuple[list, float] | None]]:
        """For each (view, entities): per entity its (values, event time), or None when the
        store has no live value. One MGET for everything."""
        keys = [key_of(spec.id, entity) for spec, entities in wanted for entity in entities]
        if not keys:
            return [[] for _ in wanted]
        raw = self._guard(self.client.mget, keys)
        now = time.time()
        out, at = [], 0
        for spec, entities in wanted:
            codec, ttl = spec.codec, spec.ttl_seconds
            found = []
            for data in raw[at:at + len(entities)]:
                if data is None:
                    found.append(None)
                    continue
                values, event_time = codec.unpack(data)
                found.append(None if ttl and event_time + ttl <= now else (values, event_time))
            out.append(found)
            at += len(entities)
        return out

    def _key_batches(self, spec: ViewSpec) -> Iterator[list[bytes]]:
        cursor = 0
        match = view_prefix(spec.id) + b"*"
        while True:
            cursor, keys = self._guard(self.client.scan, cursor, match, SCAN_BATCH)
            if keys:
                yield keys
            if cursor == 0:
                return

    def records(self, spec: ViewSpec) -> Iterator[tuple[str, bytes, float]]:
        """Every stored (entity, packed record, event time) of the view, for a tier move."""
        skip = len(view_prefix(spec.id))
        head = spec.codec.head
        for keys in self._key_batches(spec):
            for key, data in zip(keys, self._guard(self.client.mget, keys)):
                if data is not None:
                    yield key[skip:].decode(), data, head.unpack_from(data, 0)[0]

    def count(self, spec: ViewSpec) -> int:
        return sum(len(keys) for keys in self._key_batches(spec))

    def size(self, spec: ViewSpec, *, sample: int = 200) -> dict:
        """Entities stored and memory: ``MEMORY USAGE`` of a sample of keys, times the count."""
        count, sampled = 0, []
        for keys in self._key_batches(spec):
            count += len(keys)
            if len(sampled) < sample:
                sampled += keys[:sample - len(sampled)]
        if not sampled:
            return {"entities": 0, "bytes": 0, "bytes_per_entity": 0}
        pipe = self.client.pipeline(transaction=False)
        for key in sampled:
            pipe.memory_usage(key, samples=0)
        usages = [u for u in self._guard(pipe.execute) if u]
        per = sum(usages) / max(len(usages), 1)
        return {"entities": count, "bytes": int(per * count), "bytes_per_entity": round(per, 1)}
