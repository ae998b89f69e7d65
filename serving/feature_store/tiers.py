"""The tiers as the portal (and its jobs) use them, and as the serving process opens its own.

``tier(name)`` in the portal: Redis on ``FEATURE_STORE_REDIS_URL``, SQL on Django's connection.
``raw_sql_tier(database)`` for the serving process and the benchmark: a plain psycopg or sqlite3
connection made from a Django ``DATABASES`` entry, one per thread.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from serving.feature_store import redis as redis_tier
from serving.feature_store.sql import SqlTier


@lru_cache(maxsize=4)
def _redis_client(url: str):
    return redis_tier.connect(url, timeout=2.0)


def tier(name: str):
    """The portal's handle on tier ``redis`` or ``sql``."""
    from django.conf import settings
    from django.db import connection

    if name == "redis":
        return redis_tier.RedisTier(_redis_client(settings.FEATURE_STORE_REDIS_URL))
    if name == "sql":
        return SqlTier(connection.cursor, vendor=connection.vendor)
    raise ValueError(f"unknown tier {name!r}; redis or sql")


def database_of(settings_entry: dict[str, Any]) -> dict[str, Any]:
    """The plain parameters of a Django ``DATABASES`` entry (what the serving config carries)."""
    engine = settings_entry["ENGINE"]
    if "sqlite" in engine:
        return {"vendor": "sqlite", "name": str(settings_entry["NAME"])}
    if "postgresql" in engine:
        return {"vendor": "postgresql", "name": settings_entry.get("NAME") or "", "user": settings_entry.get("USER") or "",
                "password": settings_entry.get("PASSWORD") or "", "host": settings_entry.get("HOST") or "",
                "port": str(settings_entry.get("PORT") or "")}
    raise ValueError(f"the SQL feature tier runs on PostgreSQL or SQLite, not {engine}")


def raw_sql_tier(database: dict[str, Any]) -> SqlTier:
    """A SQL tier on its own connection (one per thread, reopened after an error)."""
    local = threading.local()
    vendor = database["vendor"]

    def connect():
        if vendor == "sqlite":
            import sqlite3

            conn = sqlite3.connect(database["name"], check_same_thread=False, isolation_level=None, timeout=5)
            conn.execute("PRAGMA busy_timeout = 5000")
            return conn
        import psycopg

        params = {k: database[k] for k in ("host", "port", "user", "password") if database.get(k)}
        return psycopg.connect(dbname=database["name"], autocommit=True, connect_timeout=2, **params)

    @contextmanager
    def cursor():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect()
        cur = conn.cursor()
        try:
            yield cur
        except Exception:
            local.conn = None
            try:
                conn.close()
            except Exception:
                pass
            raise
        finally:
            try:
                cur.close()
            except Exception:
                pass

    return SqlTier(cursor, vendor=vendor, placeholder="?" if vendor == "sqlite" else "%s")
