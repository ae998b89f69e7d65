from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from workers import kinds, services
from workers.models import JobState
from workers.selectors import job_get, job_latest, job_list


def job_list_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    kind = request.GET.get("kind") or None
    if state not in JobState.values:
        state = None
    page = Paginator(job_list(state=state, kind=kind), 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "state": state,
        "kind": kind,
        "states": JobState.choices,
        "kinds": kinds.all_kinds(),
        "has_active": any(not j.is_finished for j in page.object_list),
    }
    if request.htmx and request.htmx.target == "job-table":
        return render(request, "workers/job_list.html#job-table", context)
    return render(request, "workers/job_list.html", context)


def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get(job_id=job_id)
    context = {"job": job, "log_lines": job.log_lines.order_by("id")[:2000]}
    if request.htmx and request.htmx.target == "job-live":
        return render(request, "workers/job_detail.html#job-live", context)
    return render(request, "workers/job_detail.html", context)


@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get(job_id=job_id)
    try:
        services.job_cancel(job=job, by=request.user)
        messages.success(request, f"Cancel requested for {job}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("workers:job_detail", job_id=job.pk)


def system(request: HttpRequest) -> HttpResponse:
    job = job_latest(kind="system_check")
    context = {"job": job, "result": (job.result or {}) if job else {}}
    if request.htmx and request.htmx.target == "system-check":
        return render(request, "workers/system.html#system-check", context)
    return render(request, "workers/system.html", context)


@require_POST
def system_check_start(request: HttpRequest) -> HttpResponse:
    services.job_start(kind="system_check", started_by=request.user)
    messages.info(request, "System check started.")
    return redirect("workers:system")


# Every view here sits in the `workers` namespace; say which sidebar entry each belongs to.
for _view in (job_list_view, job_detail, job_cancel):
    _view.nav_section = "jobs"
for _view in (system, system_check_start):
    _view.nav_section = "system"
