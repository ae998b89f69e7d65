"""Serving's Redis connections: short timeouts, so a down Redis costs a background thread a
second, never a request."""

from __future__ import annotations

import redis


def redis_connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
