from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.lists import Sort
from workers.models import Job, Schedule

JOB_SORT = Sort({
    "created": ("created_at",),
    "kind": ("kind",),
    "state": ("state",),
    "progress": ("progress",),
    "started_by": ("started_by__full_name", "started_by__username"),
}, default="-created")


def job_list(*, state: str | None = None, kind: str | None = None, q: str = "", mine: bool = False,
             sort: str | None = None, user=None) -> QuerySet[Job]:
    """Jobs, newest first unless ``sort`` (a ``JOB_SORT`` key) says otherwise. ``q`` finds a job by
    its kind's name, its message or the person who started it; ``mine`` keeps the jobs ``user`` started."""
    from django.db.models import Q

    from workers import kinds

    qs = Job.objects.select_related("started_by")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if mine and user is not None and user.is_authenticated:
        qs = qs.filter(started_by=user)
    q = (q or "").strip()
    if q:
        named = [k.name for k in kinds.all_kinds() if q.lower() in k.label.lower()]
        qs = qs.filter(Q(kind__in=named) | Q(kind__icontains=q) | Q(message__icontains=q)
                       | Q(started_by__full_name__icontains=q) | Q(started_by__username__icontains=q))
    if sort:
        qs = qs.order_by(*JOB_SORT.order_by(sort))
    return qs


def job_list_for(*, user) -> QuerySet[Job]:
    """What a person's home page lists: every job but the portal's own (schedulers, setup, drains,
    scheduled monitors), unless that person started it."""
    from django.db.models import Q

    from workers import kinds

    return job_list().exclude(Q(kind__in=kinds.system_names()) & ~Q(started_by_id=getattr(user, "pk", None)))


def jobs_named(jobs) -> list[Job]:
    """The jobs, each with ``description``: named in words by its kind ("Training of Churn → v3"),
    one query per kind however many jobs."""
    from workers import kinds

    jobs = list(jobs)
    names = kinds.describe_many(jobs)
    for job in jobs:
        job.description = names[job.pk]
    return jobs


def job_get(*, job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("started_by", "cancel_requested_by"), pk=job_id)


def job_latest(*, kind: str) -> Job | None:
    return Job.objects.filter(kind=kind).select_related("started_by").order_by("-created_at", "-id").first()


def schedule_get(*, name: str) -> Schedule | None:
    return Schedule.objects.filter(name=name).first()


def schedule_list(*, kind: str | None = None, obj=None) -> QuerySet[Schedule]:
    qs = Schedule.objects.select_related("created_by")
    if kind:
        qs = qs.filter(kind=kind)
    if obj is not None:
        qs = qs.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))
    return qs
