"""The job kinds: a name, the queue it runs on, and the function that does the work.

The job runtime names no domain app. Each app registers its own kinds from its
``AppConfig.ready()`` and starts jobs by kind name through ``workers.services.job_start``;
it never imports the Celery tasks. A handler is called with a ``workers.runtime.JobRun`` and
returns the job's result (JSON-serialisable) or raises.

A kind may carry a ``default_schedule`` (cron): ``migrate`` then creates that schedule once,
so system jobs (the weekly ML Review, chair rotation) need no settings entry.

A kind with ``notify_starter`` tells the person who started a job when it succeeds or fails (a
notification of kind ``job_finished``), naming the job with its ``describe``.

A kind may carry a ``describe`` function (or its dotted path) that names its jobs in words of the
app that owns it: "Training of Delivery time prediction → v3". It takes a list of jobs of that
kind and returns ``{job id: text}`` or ``{job id: (text, url, link text)}`` (the page of what the
job is about, and the words of a link to it: "Open the project"),
loading what it needs for the whole list at once, so a page of jobs costs one query per kind.

A kind may carry a ``may_manage`` function (or its dotted path) ``(user, job) -> (bool, reason)``
that says whether a person answers for what the job is about (the technical lead and team of the
project a training or a deployment is for), so they may cancel it besides the person who started
it. The runtime names no domain app: the app that owns the kind knows who that is
(``workers.permissions.can_cancel_job`` asks it).
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
    describe: str | Callable | None = None  # jobs -> {id: text or (text, url)}; see the module's docstring
    may_manage: str | Callable | None = None  # (user, job) -> (bool, reason); see the module's docstring

    def load_handler(self) -> Callable:
        return import_string(self.handler) if isinstance(self.handler, str) else self.handler

    def load_describe(self) -> Callable | None:
        return import_string(self.describe) if isinstance(self.describe, str) else self.describe

    def load_may_manage(self) -> Callable | None:
        return import_string(self.may_manage) if isinstance(self.may_manage, str) else self.may_manage


@dataclass(frozen=True)
class Description:
    """A job named in words, and the page of what it is about (empty when there is none)."""

    text: str
    url: str = ""
    link_text: str = "Open"  # what following ``url`` opens: "Open the project"

    def __str__(self) -> str:
        return self.text


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, label: str, queue: str, handler: str | Callable, default_schedule: str = "",
             system: bool = False, notify_starter: bool = False, describe: str | Callable | None = None,
             may_manage: str | Callable | None = None) -> JobKind:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    if default_schedule:
        from workers.cron import parse

        parse(default_schedule)
    kind = JobKind(name=name, label=label, queue=queue, handler=handler, default_schedule=default_schedule,
                   system=system, notify_starter=notify_starter, describe=describe, may_manage=may_manage)
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



def describe_many(jobs) -> dict[int, Description]:
    """Every job named in words: by its kind's ``describe`` where it has one and knows the job,
    otherwise "<kind label> #<id>". One call per kind, whatever the number of jobs."""
    import logging

    jobs = list(jobs)
    by_kind: dict[str, list] = {}
    for job in jobs:
        by_kind.setdefault(job.kind, []).append(job)
    found: dict[int, Description] = {}
    for name, of_kind in by_kind.items():
        kind = _KINDS.get(name)
        describe = kind.load_describe() if kind else None
        if describe is None:
            continue
        try:
            described = describe(of_kind) or {}
        except Exception:  # a name is a nicety: a describer's bug must not take the jobs page down
            logging.getLogger(__name__).exception("describing %s jobs failed", name)
            continue
        for job_id, value in described.items():
            if value:
                found[job_id] = Description(*value) if isinstance(value, tuple) else Description(str(value))
    return {job.pk: found.get(job.pk) or Description(str(job)) for job in jobs}


def describe_one(job) -> Description:
    return describe_many([job])[job.pk]
