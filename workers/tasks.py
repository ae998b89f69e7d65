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


@shared_task(name="workers.job_start_scheduled", acks_late=True)
def job_start_scheduled(kind: str) -> int:
    """Beat entry point: start a job of ``kind`` as the system."""
    return services.job_start(kind=kind, started_by=None, message="Started by the schedule.").pk


@shared_task(name="workers.training_scheduled", acks_late=True)
def training_scheduled(config_id: int) -> int:
    """Beat entry point of a model's retraining schedule."""
    from registry.services import training_retrain

    return training_retrain(config_id=config_id).pk
