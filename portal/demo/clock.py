"""The demo's story clock: the demo tells its story on the days the story says it happened.

The audit log is append-only (the database refuses updates), so a demo cannot backdate its
history after the fact; instead each step of the story runs with ``timezone.now()`` set to when
that step happened. Demo code only: it swaps a process-wide function, which is fine for the one
``seed_demo`` command and never for a request or a worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.utils import timezone

_REAL_NOW = timezone.now


@contextmanager
def story_at(when: dt.datetime) -> Iterator[None]:
    """Run the block as if it started at ``when``; time still passes as it really does inside it,
    so the steps of the block keep their order and spacing. Never later than the real now."""
    real_now = _REAL_NOW
    started = real_now()
    if when > started:
        when = started

    def now() -> dt.datetime:
        return min(when + (real_now() - started), real_now())

    # Fields whose default is ``timezone.now`` captured the function itself (and cache it).
    fields = [f for model in apps.get_models() for f in model._meta.concrete_fields if f.default is real_now]
    previous = timezone.now
    saved = {f: f.__dict__.get("_get_default") for f in fields}
    timezone.now = now
    for f in fields:
        f.__dict__["_get_default"] = now
    try:
        yield
    finally:
        timezone.now = previous
        for f, default in saved.items():
            if default is None:
                f.__dict__.pop("_get_default", None)
            else:
                f.__dict__["_get_default"] = default
