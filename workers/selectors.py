from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from workers.models import Job, JobLogLine


def job_list(*, state: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.select_related("started_by")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def job_get(*, job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("started_by", "cancel_requested_by"), pk=job_id)


def job_log(*, job: Job, after_id: int = 0, limit: int = 500) -> list[JobLogLine]:
    return list(job.log_lines.filter(id__gt=after_id).order_by("id")[:limit])


def job_latest(*, kind: str) -> Job | None:
    return Job.objects.filter(kind=kind).select_related("started_by").order_by("-created_at", "-id").first()
