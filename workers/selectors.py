from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from workers.models import Job


def job_list(*, state: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.select_related("started_by")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def job_get(*, job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("started_by", "cancel_requested_by"), pk=job_id)


def job_latest(*, kind: str) -> Job | None:
    return Job.objects.filter(kind=kind).select_related("started_by").order_by("-created_at", "-id").first()
