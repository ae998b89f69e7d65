"""The sentences of the job runtime's verbs (jobs and schedules).

Registered with ``portal.history`` from ``WorkersConfig.ready()``; the job kinds' labels come from
what the apps registered (``workers.kinds``), so this module names no domain app.
"""

from __future__ import annotations

from portal import history as h
from portal.history import Sentence, who
from workers.cron import describe
from workers.kinds import kind_label


def _data(e: dict) -> dict:
    return e.get("data") or {}


def job(e):
    verb = e.get("verb") or ""
    state = verb.split(".", 1)[1]
    if state == "started":
        kind = _data(e).get("kind")
        return f"{who(e)} started the job" + (f" ({kind_label(kind).lower()})" if kind else "")
    if state == "cancel_requested":
        cancelled = e.get("to_state") == "cancelled"
        return f"{who(e)} cancelled the job" if cancelled else f"{who(e)} asked to cancel the job"
    said = {"running": "A worker started running it", "succeeded": "It finished", "failed": "It failed",
            "cancelled": "It stopped, cancelled", "queued": "It went back to the queue"}.get(state)
    if said is None:
        return None
    error = _data(e).get("error")
    return Sentence(said, h.quote(error)) if error else said


def job_many(e, n):
    return f"{job(e)} ({h.times(n)})" if isinstance(job(e), str) else None


def schedule(e):
    d = _data(e)
    if e.get("verb") == "schedule.set":
        action = "set" if d.get("created") is not False else "changed"
        when = describe(d["cron"]).lower() if d.get("cron") else ""
        return f"{who(e)} {action} the schedule of {kind_label(d.get('kind') or '').lower() or 'a job'}" + (
            f": {when}" if when else "")
    if e.get("verb") == "schedule.stopped":
        return f"{who(e)} stopped the schedule"
    return None


def register() -> None:
    h.register_labels({"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed",
                       "cancelled": "cancelled"})
    h.register("job.", job, many=job_many)
    h.register("schedule.", schedule)
