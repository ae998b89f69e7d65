"""Celery tasks: thin adapters that take an id and call a service."""

from __future__ import annotations

from celery import shared_task

from workers import runtime, services


@shared_task(name="workers.job_run", bind=True, acks_late=True)
def job_run(self, job_id: int) -> None:
    runtime.job_execute(job_id, task_id=self.request.id or "")


@shared_task(name="workers.jobs_reap_stale", acks_late=True)
def jobs_reap_stale() -> list[int]:
    return services.jobs_reap_stale()


@shared_task(name="workers.schedule_fire", acks_late=True)
def schedule_fire(schedule_id: int) -> int | None:
    """The one beat entry point: start the schedule's job for this slot, at most once."""
    job = services.schedule_fire(schedule_id=schedule_id)
    return job.pk if job is not None else None
