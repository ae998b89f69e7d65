"""The SQL tier: lower cost. One table for every view (``serving_onlinefeature``: view, entity,
packed record, event time, expiry), unique by view and entity; many entities of a view are read
with one query (``entity = ANY(%s)`` on PostgreSQL, ``IN (...)`` on SQLite).

The tier runs on a DB-API connection it is given: Django's in the portal, a plain psycopg or
sqlite3 one in the serving process (whose request path never touches Django).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

from serving.feature_store.spec import ViewSpec

TABLE = "serving_onlinefeature"
WRITE_BATCH = 1000
READ_CHUNK = 900  # SQLite's limit on one statement's parameters is 999 on old builds


class Unavailable(Exception):
    """The database cannot be reached; the message says why."""


class SqlTier:
    name = "sql"

    def __init__(self, cursor: Callable, *, vendor: str, placeholder: str = "%s"):
        """``cursor()`` gives a context-managed DB-API cursor; ``vendor`` is ``postgresql`` or
        ``sqlite``; ``placeholder`` the driver's parameter mark (Django's cursors take ``%s``)."""
        self._cursor = cursor
        self.vendor = vendor
        self.mark = placeholder

    def _marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    # -- writes --

    def write(self, spec: ViewSpec, records: Iterable[tuple[str, bytes, float]]) -> int:
        """Upsert ``(entity, packed record, event time)`` rows; an older event never replaces a
        newer one, and a value already past its TTL is not written."""
        m = self.mark
        sql = (f"INSERT INTO {TABLE} (view_id, entity, data, event_time, expires_at) VALUES ({m}, {m}, {m}, {m}, {m}) "
               f"ON CONFLICT (view_id, entity) DO UPDATE SET data = excluded.data, "
               f"event_time = excluded.event_time, expires_at = excluded.expires_at "
               f"WHERE {TABLE}.event_time <= excluded.event_time")
        now = time.time()
        written = 0
        batch: list[tuple] = []
        for entity, data, event_time in records:
            expires = spec.expires_at(event_time)
            if expires is not None and expires <= now:
                continue
            batch.append((spec.id, entity, data, event_time, expires))
            if len(batch) >= WRITE_BATCH:
                written += self._execute_many(sql, batch)
                batch = []
        if batch:
            written += self._execute_many(sql, batch)
        return written

    def _execute_many(self, sql: str, rows: list[tuple]) -> int:
        with self._cursor() as cursor:
            cursor.executemany(sql, rows)
        return len(rows)

    def delete_view(self, spec: ViewSpec) -> int:
        with self._cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE view_id = {self.mark}", [spec.id])
            return cursor.rowcount

    def purge_expired(self, spec: ViewSpec) -> int:
        with self._cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE view_id = {self.mark} AND expires_at <= {self.mark}",
                           [spec.id, time.time()])
            return cursor.rowcount

    # -- reads --

    def read(self, wanted: list[tuple[ViewSpec, list[str]]]) -> list[list[tuple[list, float] | None]]:
        """For each (view, entities): per entity its (values, event time) or None. One query per
        view (per 900 entities on SQLite)."""
        now = time.time()
        out = []
        with self._cursor() as cursor:
            for spec, entities in wanted:
                found: dict[str, bytes] = {}
                unique = list(dict.fromkeys(entities))
                if self.vendor == "postgresql":
                    chunks = [unique] if unique else []
                else:
                    chunks = [unique[i:i + READ_CHUNK] for i in range(0, len(unique), READ_CHUNK)]
                for chunk in chunks:
                    if self.vendor == "postgresql":
                        cursor.execute(f"SELECT entity, data FROM {TABLE} WHERE view_id = %s AND entity = ANY(%s) "
                                       f"AND (expires_at IS NULL OR expires_at > %s)", [spec.id, chunk, now])
                    else:
                        cursor.execute(f"SELECT entity, data FROM {TABLE} WHERE view_id = {self.mark} AND entity IN "
                                       f"({self._marks(len(chunk))}) AND (expires_at IS NULL OR expires_at > {self.mark})",
                                       [spec.id, *chunk, now])
                    for entity, data in cursor.fetchall():
                        found[entity] = bytes(data)
                codec, ttl = spec.codec, spec.ttl_seconds
                results = []
                for entity in entities:
                    data = found.get(entity)
                    if data is None:
                        results.append(None)
                        continue
                    values, event_time = codec.unpack(data)
                    # The view's time to live now, whatever it was when the row was written.
                    results.append(None if ttl and event_time + ttl <= now else (values, event_time))
                out.append(results)
        return out

    def records(self, spec: ViewSpec) -> Iterator[tuple[str, bytes, float]]:
        """Every live (entity, packed record, event time) of the view, in entity order, a page at a time."""
        after = ""
        m = self.mark
        while True:
            with self._cursor() as cursor:
                cursor.execute(f"SELECT entity, data, event_time FROM {TABLE} WHERE view_id = {m} AND entity > {m} "
                               f"AND (expires_at IS NULL OR expires_at > {m}) ORDER BY entity LIMIT {WRITE_BATCH}",
                               [spec.id, after, time.time()])
                rows = cursor.fetchall()
            if not rows:
                return
            for entity, data, event_time in rows:
                yield entity, bytes(data), event_time
            after = rows[-1][0]

    def count(self, spec: ViewSpec) -> int:
        with self._cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE view_id = {self.mark} "
                           f"AND (expires_at IS NULL OR expires_at > {self.mark})", [spec.id, time.time()])
            return cursor.fetchone()[0]

    def size(self, spec: ViewSpec) -> dict:
        """Entities stored and bytes of their rows (keys and records; the table's own overhead
        and index not counted per view)."""
        length = "octet_length" if self.vendor == "postgresql" else "length"
        with self._cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*), COALESCE(SUM({length}(data) + {length}(entity) + 24), 0) FROM {TABLE} "
                           f"WHERE view_id = {self.mark}", [spec.id])
            count, size = cursor.fetchone()
            table = None
            if self.vendor == "postgresql":
                cursor.execute(f"SELECT pg_total_relation_size('{TABLE}')")
                table = cursor.fetchone()[0]
        return {"entities": count, "bytes": int(size), "bytes_per_entity": round(size / count, 1) if count else 0,
                "table_bytes": table}
