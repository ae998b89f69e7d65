"""Talking to the serving replicas through Redis, from the portal (deploy jobs, pages) or tests.

Light on purpose: only ``redis`` and the standard library, so Django code can import it.
Each replica writes ``serving:replica:<id>`` every couple of seconds (expiring soon after it
stops) and reloads at once when a notice arrives on ``serving:changes``.
"""

from __future__ import annotations

import json
import time

CHANGES = "serving:changes"
REPLICA_PREFIX = "serving:replica:"


class RolloutFailed(Exception):
    """The replicas did not all come to serve the revision; the message says why."""


def replica_key(replica: str) -> str:
    return f"{REPLICA_PREFIX}{replica}"


def change_publish(redis_client) -> int:
    """Tell every replica to reconcile now; return how many were listening."""
    return int(redis_client.publish(CHANGES, str(time.time())))


def replicas_list(redis_client) -> list[dict]:
    """The live replicas' last status, oldest start first."""
    keys = list(redis_client.scan_iter(match=f"{REPLICA_PREFIX}*", count=500))
    values = redis_client.mget(keys) if keys else []
    replicas = []
    for value in values:
        if value:
            try:
                replicas.append(json.loads(value))
            except ValueError:
                continue
    return sorted(replicas, key=lambda r: (r.get("started_at", 0), r.get("replica", "")))


def await_revision(redis_client, endpoint: str, revision: int, timeout: float = 60.0,
                   interval: float = 0.25) -> list[dict]:
    """Wait until every live replica serves ``revision`` of ``endpoint``; return their statuses."""
    deadline = time.monotonic() + timeout
    while True:
        replicas = replicas_list(redis_client)
        if replicas:
            failed = [r for r in replicas if endpoint in (r.get("errors") or {})
                      and f"revision {revision}:" in r["errors"][endpoint]]
            if failed:
                r = failed[0]
                raise RolloutFailed(f"replica {r['replica'][:8]} on {r.get('host')}:{r.get('port')} could not load "
                                    f"{endpoint!r} {r['errors'][endpoint]}")
            if all((r.get("endpoints") or {}).get(endpoint) == revision for r in replicas):
                return replicas
        if time.monotonic() >= deadline:
            if not replicas:
                raise RolloutFailed(f"no serving replica is up to serve {endpoint!r} revision {revision}")
            behind = [f"{r['replica'][:8]} serves revision {(r.get('endpoints') or {}).get(endpoint)}"
                      for r in replicas if (r.get("endpoints") or {}).get(endpoint) != revision]
            raise RolloutFailed(f"timed out after {timeout:g}s waiting for {endpoint!r} revision {revision}: "
                                + "; ".join(behind))
        time.sleep(interval)


def errors_since(redis_client, endpoint: str, since: float) -> int:
    """Error answers of ``endpoint`` counted by the replicas since ``since`` (epoch seconds)."""
    counts = redis_client.hgetall(f"serving:errors:{endpoint}")
    return sum(int(n) for minute, n in counts.items() if float(minute) >= since - 59)
