from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from workers.models import Job, Schedule


def job_list(*, state: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.select_related("started_by")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def job_list_for(*, user) -> QuerySet[Job]:
    """What a person's home page lists: every job but the portal's own (schedulers, setup, drains,
    scheduled monitors), unless that person started it."""
    from django.db.models import Q

    from workers import kinds

    return job_list().exclude(Q(kind__in=kinds.system_names()) & ~Q(started_by_id=getattr(user, "pk", None)))


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
