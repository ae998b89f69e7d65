"""Writes for jobs: start, cancel, finish, and finding jobs whose worker died."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from portal.errors import InvalidTransition
from portal.models import User
from portal.services import audit_record
from workers import kinds
from workers.models import Job, JobLogLine, JobState

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
    """Create a queued job and send it to its queue once the transaction commits."""
    job_kind = kinds.get(kind)
    if started_by is not None and not started_by.is_authenticated:
        started_by = None
    with transaction.atomic():
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


def job_cancel(*, job: Job, by: User | None) -> Job:
    """Cancel a queued job at once; ask a running one to stop (it does within seconds)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
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
    return job


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
