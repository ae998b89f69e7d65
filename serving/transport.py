"""The one place the portal talks to the serving tier through Redis: change notices, replica
reports and the prediction log. Configured by SERVING_REDIS_URL (its own logical database)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def client():
    return _client(getattr(settings, "SERVING_REDIS_URL", settings.REDIS_URL))


def change_publish() -> None:
    """Tell every serving replica to reconcile now. A lost notice costs only the reconcile
    interval, so a Redis hiccup here never fails the change that was already committed."""
    from serving.runtime import control

    try:
        control.change_publish(client())
    except Exception:
        import logging

        logging.getLogger(__name__).warning("could not publish a serving change notice", exc_info=True)
