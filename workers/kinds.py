"""The job kinds: a name, the queue it runs on, and the function that does the work.

The job runtime names no domain app. Each app registers its own kinds from its
``AppConfig.ready()`` and starts jobs by kind name through ``workers.services.job_start``;
it never imports the Celery tasks. A handler is called with a ``workers.runtime.JobRun`` and
returns the job's result (JSON-serialisable) or raises.

A kind may carry a ``default_schedule`` (cron): ``migrate`` then creates that schedule once,
so system jobs (the weekly ML Review, chair rotation) need no settings entry.

A kind with ``notify_starter`` tells the person who started a job when it succeeds or fails (a
notification of kind ``job_finished``); its ``describe`` (a function of the job, or its dotted
path) names the job in words for that notification ("Training of Churn v3").
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
    handler: str | Callable  # a function, or its dotted path (imported when the job runs)
    default_schedule: str = ""
    system: bool = False  # started by the portal itself rather than by a person
    notify_starter: bool = False
    describe: str | Callable | None = None

    def load_handler(self) -> Callable:
        return import_string(self.handler) if isinstance(self.handler, str) else self.handler

    def description(self, job) -> str:
        """The job in words: the kind's ``describe``, else its label."""
        if self.describe is None:
            return self.label
        describe = import_string(self.describe) if isinstance(self.describe, str) else self.describe
        return describe(job) or self.label


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, label: str, queue: str, handler: str | Callable, default_schedule: str = "",
             system: bool = False, notify_starter: bool = False, describe: str | Callable | None = None) -> JobKind:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    if default_schedule:
        from workers.cron import parse

        parse(default_schedule)
    kind = JobKind(name=name, label=label, queue=queue, handler=handler, default_schedule=default_schedule,
                   system=system, notify_starter=notify_starter, describe=describe)
    _KINDS[name] = kind
    return kind


def system_names() -> list[str]:
    """The kinds the portal starts itself (schedulers, setup, the log drain, scheduled monitors)."""
    return sorted(name for name, kind in _KINDS.items() if kind.system)


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

