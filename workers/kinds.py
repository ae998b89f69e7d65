"""The job kinds: a name, the queue it runs on, and the service function that does the work.

Domain apps start jobs by kind name through ``workers.services.job_start`` and never import
the Celery tasks. A handler is called with a ``workers.runtime.JobRun`` and returns the
job's result (JSON-serialisable) or raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.utils.module_loading import import_string

QUEUES = ("default", "training", "deploy", "monitoring")


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    queue: str
    handler: str  # dotted path, imported when the job runs

    def load_handler(self) -> Callable:
        return import_string(self.handler)


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, label: str, queue: str, handler: str) -> JobKind:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    kind = JobKind(name=name, label=label, queue=queue, handler=handler)
    _KINDS[name] = kind
    return kind


def get(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown job kind {name!r}") from None


def kind_label(name: str) -> str:
    kind = _KINDS.get(name)
    return kind.label if kind else name.replace("_", " ").capitalize()


def all_kinds() -> list[JobKind]:
    return sorted(_KINDS.values(), key=lambda k: k.label)


register("system_check", label="System check", queue="default", handler="workers.system.system_check_run")
register("minutes_send", label="Minutes email", queue="default", handler="proposals.minutes.minutes_send_run")
register("ml_review_schedule", label="ML Review scheduling", queue="default", handler="proposals.jobs.ml_review_schedule_run")
register("chair_rotation", label="Chair rotation", queue="default", handler="proposals.jobs.chair_rotation_run")
register("training", label="Model training", queue="training", handler="registry.training.training_run")
register("registered_model_setup", label="MLflow model setup", queue="default", handler="registry.services.registered_model_setup_run")
