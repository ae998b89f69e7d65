"""Writes for jobs (start, cancel, finish, finding jobs whose worker died) and schedules."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition, RateLimited
from portal.models import NotificationKind, User
from portal.notifications import notify
from portal.redact import redact
from portal.services import audit_record
from workers import kinds
from workers.cron import CronError
from workers.cron import parse as cron_parse
from workers.models import Job, JobLogLine, JobState, Schedule, ScheduleSlot
from workers.permissions import can_cancel_job

logger = logging.getLogger(__name__)


def _enqueue(job_id: int) -> None:
    from workers.tasks import job_run

    job = Job.objects.get(pk=job_id)
    try:
        async_result = job_run.apply_async(args=[job.pk], queue=job.queue)
    except Exception as exc:
        logger.exception("could not queue job %s", job.pk)
        job_finished(
            job_id=job.pk,
            state=JobState.FAILED,
            message="Could not reach the task broker; the job was not started.",
            error=f"Broker unreachable: {exc}",
        )
        return
    Job.objects.filter(pk=job.pk, task_id="").update(task_id=async_result.id)


def job_start(
    *,
    kind: str,
    started_by: User | None,
    params: dict[str, Any] | None = None,
    obj: models.Model | None = None,
    message: str = "Waiting for a worker.",
) -> Job:
    """Create a queued job and send it to its queue once the transaction commits.

    A person may start at most JOBS_PER_PERSON_PER_HOUR jobs in an hour (RateLimited past it);
    jobs the portal starts itself (schedules, setup) are not counted against anyone.
    """
    job_kind = kinds.get(kind)
    if started_by is not None and not started_by.is_authenticated:
        started_by = None
    with transaction.atomic():
        if started_by is not None:
            _job_rate_check(started_by)
        job = Job.objects.create(
            kind=job_kind.name,
            queue=job_kind.queue,
            params=params or {},
            started_by=started_by,
            object_type=obj._meta.model_name if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            message=message,
        )
        audit_record(actor=started_by, verb="job.started", obj=job, to_state=JobState.QUEUED, data={"kind": kind})
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _job_rate_check(person: User) -> None:
    # The person's row is locked so that two starts at once cannot both take the last place.
    User.objects.select_for_update().filter(pk=person.pk).first()
    limit = settings.JOBS_PER_PERSON_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    recent = Job.objects.filter(started_by=person, created_at__gte=since).order_by("created_at")
    if recent.count() < limit:
        return
    oldest = recent.values_list("created_at", flat=True)[max(recent.count() - limit, 0)]
    again = timezone.localtime(oldest + timedelta(hours=1)).strftime("%H:%M")
    raise RateLimited(
        f"You have started {limit} jobs in the last hour; one person can start at most {limit} an hour "
        f"(JOBS_PER_PERSON_PER_HOUR). Try again after {again}.",
        limit=limit,
    )


def job_cancel(*, job: Job, by: User | None) -> Job:
    """Cancel a queued job at once; ask a running one to stop (it does within seconds).

    ``by`` is the person asking (``can_cancel_job`` decides), or None for the portal itself."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if by is not None:
            allowed, reason = can_cancel_job(by, job)
            if not allowed:
                raise Forbidden(reason)
        if job.is_finished:
            raise InvalidTransition(
                f"This job has already {job.state}; only queued or running jobs can be cancelled.",
                state=job.state,
                allowed_actions=[],
            )
        now = timezone.now()
        if job.cancel_requested_at is None:
            job.cancel_requested_at = now
            job.cancel_requested_by = by if by is not None and by.is_authenticated else None
        from_state = job.state
        if job.state == JobState.QUEUED:
            job.state = JobState.CANCELLED
            job.finished_at = now
            job.message = "Cancelled before it started."
        else:
            job.message = "Stopping…"
        job.save()
        JobLogLine.objects.create(job=job, text=f"Cancel requested by {by.display_name if by else 'system'}.")
        audit_record(actor=by, verb="job.cancel_requested", obj=job, from_state=from_state, to_state=job.state)
        if job.state == JobState.CANCELLED and job.task_id:
            task_id = job.task_id
            transaction.on_commit(lambda: _revoke(task_id, terminate=False))
    return job


def _revoke(task_id: str, *, terminate: bool) -> None:
    from portal.celery import app

    try:
        app.control.revoke(task_id, terminate=terminate)
    except Exception:
        logger.warning("could not revoke task %s", task_id, exc_info=True)


def job_finished(*, job_id: int, state: str, message: str, result: Any = None, error: str = "") -> Job | None:
    """Record a job's end, once: a job already finished is left as it is."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return job
        from_state = job.state
        # The reason of a failure is often an exception's text, which may name a connection URL
        # with its password; it is shown on the job's page and kept in the (immutable) audit log.
        message, error = redact(message), redact(error)
        job.state = state
        job.finished_at = timezone.now()
        job.message = message[:500]
        job.error = error
        if state == JobState.SUCCEEDED:
            job.progress = 100
            job.result = result
        job.save()
        JobLogLine.objects.create(
            job=job,
            text=message,
            level=JobLogLine.Level.ERROR if state == JobState.FAILED else JobLogLine.Level.INFO,
        )
        audit_record(
            actor=None, verb=f"job.{state}", obj=job, from_state=from_state, to_state=state,
            data={"error": error} if error else {},
        )
        _notify_starter(job)
    return job


def _notify_starter(job: Job) -> None:
    """Tell the person who started a training or deployment (a kind with ``notify_starter``) how it
    ended. A job cancelled by the person who started it needs no telling."""
    try:
        kind = kinds.get(job.kind)
    except KeyError:
        return
    if not kind.notify_starter or job.started_by_id is None:
        return
    if job.state == JobState.CANCELLED and job.cancel_requested_by_id == job.started_by_id:
        return
    try:
        what = kinds.describe_one(job).text
    except Exception:  # a description that cannot be made must not undo the job's end
        logger.warning("could not describe job %s", job.pk, exc_info=True)
        what = kind.label
    ended = {JobState.SUCCEEDED: "finished", JobState.FAILED: "failed", JobState.CANCELLED: "was cancelled"}[job.state]
    body = job.message if job.state != JobState.FAILED else (job.error or job.message)
    notify(user=job.started_by, kind=NotificationKind.JOB_FINISHED, title=f"{what} {ended}", body=body[:1000],
           url=reverse("workers:job_detail", args=[job.pk]), dedupe_key=f"job:{job.pk}:{job.state}", obj=job)


def jobs_reap_stale(*, now=None) -> list[int]:
    """Fail running jobs whose worker stopped sending heartbeats; finish cancels nobody acted on."""
    now = now or timezone.now()
    timeout = timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS)
    reaped: list[int] = []
    stale = Job.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=now - timeout)
    for job in stale:
        last = timezone.localtime(job.heartbeat_at).strftime("%Y-%m-%d %H:%M:%S %Z")
        done = job_finished(
            job_id=job.pk,
            state=JobState.FAILED,
            message=f"The worker running this job stopped responding (last heartbeat {last}); marked failed.",
            error=f"Worker lost: no heartbeat from {job.worker or 'the worker'} for more than "
            f"{int(timeout.total_seconds())} s.",
        )
        if done is not None and done.state == JobState.FAILED:
            reaped.append(job.pk)
    grace = timedelta(seconds=settings.JOB_CANCEL_GRACE_SECONDS)
    ignored = Job.objects.filter(state=JobState.RUNNING, cancel_requested_at__lt=now - grace)
    for job in ignored:
        if job.task_id:
            _revoke(job.task_id, terminate=True)
        job_finished(job_id=job.pk, state=JobState.CANCELLED, message="Cancelled (the worker was stopped).")
        reaped.append(job.pk)
    return reaped


# --- schedules ----------------------------------------------------------------------------

def _beat_task_name(schedule: Schedule) -> str:
    return f"schedule:{schedule.name}"


def _beat_sync(schedule: Schedule) -> None:
    """Mirror a schedule into django-celery-beat's tables, the only place that writes them."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    name = _beat_task_name(schedule)
    if not schedule.enabled:
        PeriodicTask.objects.filter(name=name).delete()
        return
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.cron.split(" ")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week,
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=name,
        defaults={"crontab": crontab, "interval": None, "task": "workers.schedule_fire",
                  "args": json.dumps([schedule.pk]), "queue": "default", "enabled": True,
                  "description": f"{kinds.kind_label(schedule.kind)} ({schedule.cron})"},
    )


def schedule_check(cron: str, *, minimum: bool = True) -> str:
    """The cron expression normalised, or a DomainError (field ``schedule``) saying what is wrong.

    With ``minimum`` (every schedule a person makes) it may not fire more often than every
    SCHEDULE_MIN_INTERVAL_MINUTES.
    """
    try:
        parsed = cron_parse(cron)
    except CronError as exc:
        raise DomainError(str(exc) if "five fields" in str(exc) else
                          f"The schedule {' '.join((cron or '').split())!r} is not a valid cron expression: {exc}",
                          field="schedule") from None
    least = settings.SCHEDULE_MIN_INTERVAL_MINUTES
    if minimum and parsed.min_interval_minutes() < least:
        gap = parsed.min_interval_minutes()
        raise DomainError(
            f"The schedule {parsed.expression!r} runs every {gap} minute{'s' if gap != 1 else ''}; a schedule can run "
            f"at most every {least} minutes (SCHEDULE_MIN_INTERVAL_MINUTES), for example {f'*/{least} * * * *'!r}.",
            field="schedule",
        )
    return parsed.expression


def schedule_set(*, name: str, kind: str, cron: str, params: dict[str, Any] | None = None,
                 obj: models.Model | None = None, by: User | None = None) -> Schedule:
    """Start ``kind`` with ``params`` on the cron schedule ``cron``; replaces the schedule of that name.

    A kind's own default schedule (``schedules_ensure_defaults``) is exempt from the minimum
    interval: the portal chose it (the prediction drain runs every minute).
    """
    job_kind = kinds.get(kind)
    own_default = bool(job_kind.default_schedule) and name == job_kind.name and \
        " ".join(cron.split()) == " ".join(job_kind.default_schedule.split())
    cron = schedule_check(cron, minimum=not own_default)
    with transaction.atomic():
        schedule, created = Schedule.objects.select_for_update().update_or_create(
            name=name,
            defaults={"kind": job_kind.name, "cron": cron, "params": params or {}, "enabled": True,
                      "object_type": obj._meta.model_name if obj is not None else "",
                      "object_id": str(obj.pk) if obj is not None else "",
                      "created_by": by if by is not None and by.is_authenticated else None,
                      "updated_at": timezone.now()},
        )
        _beat_sync(schedule)
        audit_record(actor=by, verb="schedule.set", obj=schedule, to_state="enabled",
                     data={"kind": kind, "cron": cron, "params": params or {}, "created": created})
    return schedule


def schedule_stop(*, name: str, by: User | None) -> None:
    """Stop a schedule. Raises DomainError when there is none of that name."""
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(name=name).first()
        if schedule is None:
            raise DomainError(f"There is no schedule {name!r}.")
        audit_record(actor=by, verb="schedule.stopped", obj=schedule, from_state="enabled", to_state="deleted",
                     data={"kind": schedule.kind, "cron": schedule.cron})
        schedule.enabled = False
        _beat_sync(schedule)
        schedule.delete()


def schedule_fire(*, schedule_id: int, now=None) -> Job | None:
    """Beat's entry point: start the schedule's job for the current slot, at most once.

    A duplicated or redelivered beat message finds the slot taken (a unique row) and starts
    nothing; a schedule stopped meanwhile starts nothing either.
    """
    now = now or timezone.now()
    schedule = Schedule.objects.filter(pk=schedule_id, enabled=True).first()
    if schedule is None:
        return None
    local = timezone.localtime(now)
    slot = cron_parse(schedule.cron).slot(local.replace(tzinfo=None))
    slot = timezone.make_aware(slot, local.tzinfo) if settings.USE_TZ else slot
    try:
        with transaction.atomic():
            fired = ScheduleSlot.objects.create(schedule=schedule, slot=slot)
            job = job_start(kind=schedule.kind, started_by=None, params=dict(schedule.params),
                            message=f"Started by the schedule {schedule.name} ({schedule.cron}).")
            fired.job = job
            fired.save(update_fields=["job"])
            Schedule.objects.filter(pk=schedule.pk).update(last_fired_at=now)
    except IntegrityError:
        logger.info("schedule %s already fired for %s", schedule.name, slot)
        return None
    return job


def schedules_ensure_defaults() -> list[Schedule]:
    """Create the default schedule of each registered kind that has one, once (``migrate``)."""
    created = []
    for kind in kinds.all_kinds():
        if kind.default_schedule and not Schedule.objects.filter(name=kind.name).exists():
            created.append(schedule_set(name=kind.name, kind=kind.name, cron=kind.default_schedule))
    return created
