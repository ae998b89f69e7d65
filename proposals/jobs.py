"""Handlers of the scheduled governance jobs."""

from __future__ import annotations

from proposals import services


def ml_review_schedule_run(job) -> dict:
    meeting = services.meeting_next()
    services.agenda_build(meeting=meeting)
    job.log(f"Next ML Review: {meeting} with {meeting.items.count()} agenda item(s).")
    return {"meeting_id": meeting.pk, "items": meeting.items.count()}


def chair_rotation_run(job) -> dict:
    term = services.chair_rotate()
    if term is None:
        job.log("The chair's term is still running; nothing to hand over.")
        return {"handed_over": False}
    job.log(f"{term.user.display_name} is chair until {term.end_date:%Y-%m-%d}.")
    return {"handed_over": True, "chair": term.user.username, "until": term.end_date.isoformat()}
