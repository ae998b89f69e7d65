"""The system check: probes every part the portal depends on and times each probe.

The kernel probes what it owns (database, Redis, broker, queues); each app registers probes
for the systems behind it (``register_probe("mlflow", ...)`` from the registry's ``ready()``).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from django.conf import settings
from django.db import connection

from portal.redact import redact
from workers.kinds import QUEUES
from workers.runtime import JobRun


def _timed(name: str, probe: Callable[[], str]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # a probe's failure is the finding, not an error of the check
        detail = f"{exc.__class__.__name__}: {exc}"
        ok = False
    return {"name": name, "ok": ok, "ms": round((time.perf_counter() - start) * 1000, 1), "detail": redact(detail)}


def probe_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} {connection.settings_dict['NAME']}"


def redis_connection():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def probe_redis() -> str:
    client = redis_connection()
    client.ping()
    info = client.info("server")
    where = settings.EMBEDDED_REDIS_SOCKET or settings.REDIS_URL.split("@")[-1]
    return f"Redis {info.get('redis_version', '?')} at {where}" + (" (embedded)" if settings.EMBEDDED_REDIS else "")


def probe_broker() -> str:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return f"{conn.transport_cls} transport reachable"


_PROBES: dict[str, Callable[[], str]] = {}


def register_probe(name: str, probe: Callable[[], str]) -> None:
    """Add a component to the system check: ``probe()`` returns a one-line detail or raises."""
    _PROBES[name] = probe


def registered_probes() -> list[tuple[str, Callable[[], str]]]:
    return sorted(_PROBES.items())


def worker_queues(timeout: float = 2.0) -> dict[str, list[str]]:
    """Which workers consume which queue, as the workers themselves answer."""
    from portal.celery import app

    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    consumers: dict[str, list[str]] = {q: [] for q in QUEUES}
    for worker, queues in replies.items():
        for q in queues:
            consumers.setdefault(q["name"], []).append(worker)
    return consumers


def queue_length(name: str) -> int | None:
    try:
        return int(redis_connection().llen(name)) if settings.CELERY_BROKER_URL.startswith("redis") else None
    except Exception:
        return None


def readiness() -> dict[str, dict[str, Any]]:
    """The quick probes behind /readyz: database, Redis, broker."""
    return {
        c["name"]: c
        for c in (
            _timed("database", probe_database),
            _timed("redis", probe_redis),
            _timed("broker", probe_broker),
        )
    }


def system_check_run(job: JobRun) -> dict[str, Any]:
    checks: list[dict[str, Any]] = []
    steps: list[tuple[str, Callable[[], str]]] = [
        ("database", probe_database),
        ("redis", probe_redis),
        ("broker", probe_broker),
        *registered_probes(),
    ]
    total = len(steps) + 1
    for i, (name, probe) in enumerate(steps):
        job.progress(100 * i / total, f"Checking {name}…")
        result = _timed(name, probe)
        checks.append(result)
        job.log(f"{name}: {'ok' if result['ok'] else 'FAILED'} in {result['ms']} ms - {result['detail']}")

    job.progress(100 * len(steps) / total, "Asking workers which queues they serve…")
    start = time.perf_counter()
    try:
        consumers = worker_queues()
        error = ""
    except Exception as exc:
        consumers, error = {q: [] for q in QUEUES}, redact(f"{exc.__class__.__name__}: {exc}")
    ms = round((time.perf_counter() - start) * 1000, 1)
    for q in QUEUES:
        workers = consumers.get(q, [])
        waiting = queue_length(q)
        detail = error or (
            f"{len(workers)} worker(s): {', '.join(workers)}" if workers else "no worker is consuming this queue"
        )
        if waiting is not None:
            detail += f"; {waiting} message(s) waiting"
        checks.append({"name": f"queue:{q}", "ok": bool(workers), "ms": ms, "detail": detail})
        job.log(f"queue {q}: {'ok' if workers else 'FAILED'} - {detail}")
    ok = all(c["ok"] for c in checks)
    job.progress(100, "All systems reachable." if ok else "Some checks failed.")
    return {"ok": ok, "checks": checks}
