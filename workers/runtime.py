"""Runs one job inside a worker: state, heartbeat, progress, log, cancellation."""

from __future__ import annotations

import logging
import socket
import threading
import traceback
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from portal.redact import redact
from workers import kinds
from workers.models import Job, JobLogLine, JobPoint, JobState

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a handler when someone asked for the job to stop."""


class JobRun:
    """What a handler sees: report progress and log lines, and stop when asked to."""

    def __init__(self, job: Job):
        self.job = job
        self.job_id = job.pk
        self.params: dict[str, Any] = dict(job.params or {})

    def progress(self, percent: float, message: str | None = None) -> None:
        """Record progress (0-100). Raises JobCancelled if cancellation was requested."""
        fields: dict[str, Any] = {"progress": max(0, min(100, int(percent))), "heartbeat_at": timezone.now()}
        if message is not None:
            fields["message"] = redact(message)[:500]
        Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(**fields)
        self.check_cancelled()

    def record(self, points: dict[str, list[tuple[int, float]]]) -> None:
        """Add points to the job's series (``{"valid_mae": [(round, value), ...]}``) for its live chart."""
        import math

        rows = [JobPoint(job_id=self.job_id, series=series[:60], step=int(step), value=float(value))
                for series, values in points.items() for step, value in values if math.isfinite(float(value))]
        JobPoint.objects.bulk_create(rows, batch_size=500)

    def log(self, text: str, level: str = JobLogLine.Level.INFO) -> None:
        # Handlers log exception text, which may carry a connection URL with its password.
        JobLogLine.objects.create(job_id=self.job_id, text=redact(text), level=level)

    def check_cancelled(self) -> None:
        if Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).exists():
            raise JobCancelled()


class _Heartbeat(threading.Thread):
    """Writes the job's heartbeat while the handler runs, so a dead worker is noticed."""

    def __init__(self, job_id: int, interval: float):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(heartbeat_at=timezone.now())
                except Exception:  # a missed beat is retried on the next interval
                    logger.warning("heartbeat for job %s failed", self.job_id, exc_info=True)
        finally:
            connection.close()


def _claim(job_id: int, task_id: str) -> Job | None:
    """Move a queued job to running. None when there is nothing to do (a retry or a cancel)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != JobState.QUEUED:
            return None
        now = timezone.now()
        job.state = JobState.RUNNING
        job.started_at = now
        job.heartbeat_at = now
        job.attempts += 1
        job.task_id = task_id or job.task_id
        job.worker = socket.gethostname()
        job.save(update_fields=["state", "started_at", "heartbeat_at", "attempts", "task_id", "worker"])
        JobLogLine.objects.create(job=job, text=f"Started on {job.worker} (queue {job.queue}).")
    return job


def _finish(job_id: int, state: str, *, message: str, result: Any = None, error: str = "") -> None:
    from workers.services import job_finished

    job_finished(job_id=job_id, state=state, message=message, result=result, error=error)


def job_execute(job_id: int, *, task_id: str = "") -> None:
    """Run a job to its end. Safe to call twice: only a queued job is run."""
    if not connection.in_atomic_block:  # a worker's stale connection; never one inside a transaction
        close_old_connections()
    job = _claim(job_id, task_id)
    if job is None:
        logger.info("job %s is not queued; nothing to do", job_id)
        return
    heartbeat = _Heartbeat(job.pk, settings.JOB_HEARTBEAT_SECONDS)
    heartbeat.start()
    run = JobRun(job)
    try:
        handler = kinds.get(job.kind).load_handler()
        result = handler(run)
    except JobCancelled:
        _finish(job.pk, JobState.CANCELLED, message="Cancelled.")
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        _finish(job.pk, JobState.FAILED, message=f"Stopped: ran past the time limit of {limit} s.",
                error=f"The job ran longer than the {limit} s time limit and was stopped.")
    except Exception as exc:  # every failure ends the job with a readable reason
        reason = str(exc) or exc.__class__.__name__
        run.log(traceback.format_exc(), level=JobLogLine.Level.ERROR)
        _finish(job.pk, JobState.FAILED, message=f"Failed: {reason}"[:500], error=reason)
    else:
        _finish(job.pk, JobState.SUCCEEDED, message="Done.", result=result)
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
