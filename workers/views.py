from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.lists import list_params
from workers import kinds, services
from workers.fields import readable_fields
from workers.permissions import can_cancel_job
from workers.models import JobState
from workers.selectors import JOB_SORT, job_get, job_latest, job_list, jobs_named


def job_list_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    kind = request.GET.get("kind") or None
    if state not in JobState.values:
        state = None
    params = list_params(request, JOB_SORT)
    jobs = job_list(state=state, kind=kind, q=params.q, mine=params.mine, sort=params.sort, user=request.user)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    page.object_list = jobs_named(page.object_list)
    context = {
        "page": page,
        "state": state,
        "kind": kind,
        "q": params.q,
        "mine": params.mine,
        "sort": params.sort,
        "filtered": bool(state or kind or params.q or params.mine),
        "states": JobState.choices,
        "kinds": kinds.all_kinds(),
        "has_active": any(not j.is_finished for j in page.object_list),
    }
    if request.htmx and request.htmx.target == "job-table":
        return render(request, "workers/job_list.html#job-table", context)
    return render(request, "workers/job_list.html", context)


def _curve(job) -> str | None:
    """The job's reported series (a validation metric per round or epoch) as a live chart."""
    points: dict[str, list[tuple[int, float]]] = {}
    for series, step, value in job.points.order_by("series", "step").values_list("series", "step", "value"):
        points.setdefault(series, []).append((step, value))
    if not points:
        return None
    import plotly.graph_objects as go

    from portal.charts import lazy_chart_html

    fig = go.Figure()
    for series, values in points.items():
        label = series.replace("valid_", "validation ").replace("_", " ")
        fig.add_trace(go.Scatter(x=[s for s, _ in values], y=[v for _, v in values], name=label, mode="lines+markers",
                                 marker=dict(size=3), line=dict(color="#2563eb")))
    fig.update_layout(height=240, margin=dict(l=50, r=20, t=20, b=40), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", showlegend=True, legend=dict(orientation="h", y=1.1, x=0),
                      font=dict(family="-apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif", size=12),
                      transition={"duration": 0})
    fig.update_xaxes(title_text="round or epoch", showgrid=False)
    fig.update_yaxes(gridcolor="#eef1f5")
    return lazy_chart_html(fig)


def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get(job_id=job_id)
    job.description = kinds.describe_one(job)
    may_cancel, _ = can_cancel_job(request.user, job)
    context = {"job": job, "may_cancel": may_cancel, "log_lines": job.log_lines.order_by("id")[:2000], "curve": _curve(job),
               "params_fields": readable_fields(job.params), "result_fields": readable_fields(job.result)}
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
    try:
        services.job_start(kind="system_check", started_by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, "System check started.")
    return redirect("workers:system")


# Every view here sits in the `workers` namespace; say which sidebar entry each belongs to.
for _view in (job_list_view, job_detail, job_cancel):
    _view.nav_section = "jobs"
for _view in (system, system_check_start):
    _view.nav_section = "system"
