"""Monitoring pages: the company's Monitoring page, an endpoint's monitoring, and the panels other
pages load (endpoint, model version, project)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from observability import charts, maturity, permissions, selectors, services
from observability.models import QUALITY_METRICS, Check, MonitorRun, QualityPromise
from portal.charts import lazy_chart_html
from portal.errors import DomainError
from registry.models import MLProject, ModelVersion
from serving.selectors import endpoint_get, endpoint_list

PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}
HISTORY_DAYS = 7


def _html(figure) -> str:
    return lazy_chart_html(figure, config=PLOTLY_CONFIG)


def monitoring_home(request: HttpRequest) -> HttpResponse:
    """Every deployment's health, open alerts, the worst-drifting features, monitors that are late."""
    endpoints = list(endpoint_list())
    monitors = list(selectors.monitor_list())
    last = selectors.last_runs(monitors)
    alerts_open = selectors.open_alert_counts()
    by_endpoint: dict[str, list] = {}
    for monitor in monitors:
        by_endpoint.setdefault(monitor.endpoint.name, []).append(monitor)
    rows = []
    for endpoint in endpoints:
        mine = by_endpoint.get(endpoint.name, [])
        runs = [last[m.pk] for m in mine if m.pk in last]
        worst = max(runs, key=lambda r: ["not_enough_data", "ok", "warn", "alert"].index(r.status), default=None)
        rows.append({"endpoint": endpoint, "monitors": mine, "run": worst, "open_alerts": alerts_open.get(endpoint.name, 0),
                     "overdue": [m for m in mine if selectors.overdue(m, last.get(m.pk))]})
    projects = MLProject.objects.select_related("owner").order_by("title")
    levels = maturity.maturity_all(projects)
    counts = maturity.maturity_counts(levels)
    return render(request, "observability/monitoring.html", {
        "rows": rows,
        "alerts": list(selectors.alert_list(state="open")[:50]),
        "worst": selectors.worst_features(since=timezone.now() - dt.timedelta(days=1)),
        "overdue": [(r["endpoint"], m) for r in rows for m in r["overdue"]],
        "levels": levels,
        "maturity_google": _html(charts.maturity_figure(counts["google"], maturity.GOOGLE, title="Google's scale"))
        if levels else None,
        "maturity_microsoft": _html(charts.maturity_figure(counts["microsoft"], maturity.MICROSOFT,
                                                           title="Microsoft's scale")) if levels else None,
    })


def _feature_rows(run: MonitorRun | None) -> list[dict]:
    if run is None:
        return []
    order = {"alert": 0, "warn": 1, "ok": 2, "not_enough_data": 3}
    rows = [{"name": name, **result} for name, result in (run.features or {}).items()]
    return sorted(rows, key=lambda r: (order.get(r.get("status"), 4), -(r.get("psi") or 0), r["name"]))


def endpoint_monitoring(request: HttpRequest, name: str) -> HttpResponse:
    endpoint = endpoint_get(name=name)
    project = endpoint.project
    monitors = list(selectors.monitor_list(endpoint=name))
    chosen = request.GET.get("monitor")
    monitor = next((m for m in monitors if str(m.pk) == chosen), monitors[0] if monitors else None)
    context: dict = {"endpoint": endpoint, "project": project, "monitors": monitors, "monitor": monitor,
                                  "alerts": list(selectors.alert_list(endpoint=name)[:20]),
                     "can_tune": permissions.can_tune_monitor(request.user, project),
                     "can_handle": permissions.can_handle_alert(request.user, project)[0],
                     "highlight_alert": request.GET.get("alert")}
    if monitor is None:
        return render(request, "observability/endpoint_monitoring.html", context)
    runs = list(selectors.run_list(monitor=monitor.pk)[:20])
    last = runs[0] if runs else None
    feature_rows = _feature_rows(last)
    selected = request.GET.get("feature") or next((r["name"] for r in feature_rows if r.get("status") == "alert"),
                                                  feature_rows[0]["name"] if feature_rows else None)
    thresholds = services.thresholds_of(monitor)
    chosen_result = (last.features or {}).get(selected) if last and selected else None
    context.update(_charts(monitor, last, project, selected=selected))
    context.update({
        "runs": runs, "last": last, "feature_rows": feature_rows, "selected": selected, "thresholds": thresholds,
        "checks": Check.choices, "schedule_help": "five-field cron, e.g. */15 * * * *",
        "threshold_items": [(k, thresholds.get(k)) for k in services.THRESHOLD_RANGES if k != "quality_limit"],
        "feature_chart": _html(charts.distribution_figure(chosen_result["histogram"], label=selected))
        if chosen_result and chosen_result.get("histogram") else None,
        "feature_result": chosen_result,
        "features_known": ", ".join(f for f in services._version_features(endpoint)),
    })
    return render(request, "observability/endpoint_monitoring.html", context)


def _charts(monitor, last: MonitorRun | None, project, *, selected: str | None = None,
            version_id: int | None = None) -> dict:
    """The monitor's charts over the last week: PSI per feature with the thresholds, the feature by
    time heatmap, the prediction's distribution against training, quality (with the promise) and
    missing rates. ``version_id`` keeps to the runs of one model version."""
    thresholds = services.thresholds_of(monitor)
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)

    def series(statistic: str) -> dict:
        return selectors.series(monitor=monitor, statistic=statistic, since=since, version_id=version_id)

    feature_psi = {k: v for k, v in series("psi").items() if k}
    missing = {k: v for k, v in series("missing_rate").items() if k}
    promise = selectors.promise_get(project=project)
    quality_metric = promise.metric if promise else thresholds.get("quality_metric") or _default_metric(last)
    quality = series(f"quality_{quality_metric}").get("", []) if quality_metric else []
    return {
        "promise": promise, "quality_metric": quality_metric,
        "drift_chart": _html(charts.drift_over_time_figure(feature_psi, warn=thresholds["psi_warn"],
                                                           alert=thresholds["psi_alert"], highlight=selected))
        if feature_psi else None,
        "heatmap": _html(charts.heatmap_figure(feature_psi, alert=thresholds["psi_alert"])) if feature_psi else None,
        "prediction_chart": _html(charts.distribution_figure(last.prediction["histogram"], label="prediction"))
        if last and (last.prediction or {}).get("histogram") else None,
        "quality_chart": _html(charts.quality_figure(
            quality, metric=quality_metric, target=promise.target if promise and promise.metric == quality_metric
            else None, lower_is_better=quality_metric in {"mae", "rmse", "log_loss"})) if quality else None,
        "missing_chart": _html(charts.rates_figure(missing, label="missing rate")) if missing else None,
    }


def _default_metric(run: MonitorRun | None) -> str | None:
    for metric in ("mae", "auc", "log_loss"):
        if run is not None and (run.quality or {}).get(metric) is not None:
            return metric
    return None


def _parse_form(post) -> dict:
    """The tune form's fields as the service takes them; blank fields leave a value as it is."""
    data: dict = {"checks": post.getlist("checks"), "enabled": post.get("enabled") == "on"}
    features = [f.strip() for f in post.get("features", "").split(",") if f.strip()]
    data["features"] = features
    for key in ("window_minutes", "clean_runs_to_resolve"):
        if post.get(key, "").strip():
            try:
                data[key] = int(post[key])
            except ValueError:
                raise DomainError(f"{key.replace('_', ' ')} must be a whole number.", field=key) from None
    if post.get("schedule", "").strip():
        data["schedule"] = post["schedule"].strip()
    thresholds = {}
    for key in services.THRESHOLD_RANGES:
        raw = post.get(f"t_{key}", "").strip()
        if raw:
            try:
                thresholds[key] = float(raw) if "." in raw or "e" in raw.lower() else int(raw)
            except ValueError:
                raise DomainError(f"The threshold {key} must be a number.", field=key) from None
    if thresholds:
        data["thresholds"] = thresholds
    return data


@require_POST
def monitor_tune(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = selectors.monitor_get(monitor_id=monitor_id)
    try:
        services.monitor_update(monitor=monitor, by=request.user, data=_parse_form(request.POST))
        messages.success(request, "Monitor saved; the next run uses the new settings.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(f"{_monitoring_url(monitor.endpoint.name)}?monitor={monitor.pk}")


@require_POST
def monitor_run_now(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = selectors.monitor_get(monitor_id=monitor_id)
    try:
        job = services.monitor_run_start(monitor=monitor, by=request.user, start=request.POST.get("start") or None,
                                         end=request.POST.get("end") or None)
        messages.success(request, f"Monitor run started (job #{job.pk}); its results appear here when it ends.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(f"{_monitoring_url(monitor.endpoint.name)}?monitor={monitor.pk}")


@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    note = request.POST.get("note", "")
    try:
        if action == "acknowledge":
            services.alert_acknowledge(alert=alert, by=request.user, note=note)
            messages.success(request, "Alert acknowledged: the team knows someone is on it.")
        elif action == "resolve":
            services.alert_resolve(alert=alert, by=request.user, note=note)
            messages.success(request, "Alert resolved.")
        else:
            return HttpResponse(status=404)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(request.POST.get("back") or _monitoring_url(alert.endpoint))


def _monitoring_url(name: str) -> str:
    from django.urls import reverse

    return reverse("observability:endpoint_monitoring", args=[name])


def endpoint_panel(request: HttpRequest, name: str) -> HttpResponse:
    """The monitoring on an endpoint's page (loaded by htmx): status, open alerts and the charts."""
    endpoint = endpoint_get(name=name)
    monitors = list(selectors.monitor_list(endpoint=name))
    last = selectors.last_runs(monitors)
    context = {"endpoint": endpoint, "monitors": [(m, last.get(m.pk)) for m in monitors],
               "alerts": list(selectors.alert_list(state="open", endpoint=name)[:5])}
    if monitors:
        context.update(_charts(monitors[0], last.get(monitors[0].pk), endpoint.project))
    return render(request, "observability/_endpoint_panel.html", context)


def version_panel(request: HttpRequest, version_id: int) -> HttpResponse:
    """A model version's monitoring (loaded by htmx on its page): its runs wherever it answers, and the charts."""
    version = get_object_or_404(ModelVersion.objects.select_related("registered_model__project"), pk=version_id)
    runs = list(MonitorRun.objects.filter(model_version_id=version.pk).select_related("monitor__endpoint")
                .order_by("-window_end")[:10])
    last = runs[0] if runs else None
    context = {"version": version, "runs": runs, "last": last, "feature_rows": _feature_rows(last)}
    if last is not None:
        context.update(_charts(last.monitor, last, version.registered_model.project, version_id=version.pk))
    return render(request, "observability/_version_panel.html", context)


def project_panel(request: HttpRequest, project_id: int) -> HttpResponse:
    """Promised against delivered, and MLOps maturity, on a project's page (loaded by htmx)."""
    project = get_object_or_404(MLProject.objects.select_related("proposal"), pk=project_id)
    promise = selectors.promise_get(project=project)
    delivered = selectors.promise_delivered(project=project, since=timezone.now() - dt.timedelta(days=30))
    task = selectors.project_task(project=project)
    return render(request, "observability/_project_panel.html", {
        "project": project, "promise": promise, "delivered": delivered[-1][1] if delivered else None,
        "kept": promise.kept_by(delivered[-1][1]) if promise and delivered else None,
        "chart": _html(charts.quality_figure(delivered, metric=promise.metric, target=promise.target,
                                             lower_is_better=promise.lower_is_better)) if promise and delivered else None,
        "metrics": QUALITY_METRICS.get(task, []), "can_promise": permissions.can_set_promise(request.user, project)[0],
        "maturity": maturity.maturity_of(project),
    })


@require_POST
def promise_set(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(MLProject, pk=project_id)
    try:
        services.promise_set(project=project, by=request.user, metric=request.POST.get("metric", ""),
                             target=request.POST.get("target", ""))
        messages.success(request, "Promise recorded: the project page and the Council dashboard show it beside "
                                  "what the model delivers.")
    except DomainError as exc:
        messages.error(request, exc.message)
    from django.urls import reverse

    return redirect(reverse("registry:project_detail", args=[project.pk]) + "#promise")


def promises_panel(request: HttpRequest) -> HttpResponse:
    """Promised against delivered for every project with a promise (the Council dashboard loads it)."""
    rows = []
    since = timezone.now() - dt.timedelta(days=30)
    for promise in QualityPromise.objects.select_related("project").order_by("project__title"):
        delivered = selectors.promise_delivered(project=promise.project, since=since)
        value = delivered[-1][1] if delivered else None
        chart = _html(charts.quality_figure(delivered, metric=promise.metric, target=promise.target,
                                            lower_is_better=promise.lower_is_better, height=180)) if delivered else None
        rows.append({"promise": promise, "delivered": value, "kept": promise.kept_by(value), "chart": chart,
                     "alerts": selectors.alert_list(state="open", project=promise.project)
                     .filter(condition="promise").exists()})
    return render(request, "observability/_promises_panel.html", {"rows": rows})



def mine_panel(request: HttpRequest) -> HttpResponse:
    """The home page's "my models and endpoints": the projects this person leads or is on the team
    of, each endpoint with its health and open alerts (loaded by htmx)."""
    from django.db.models import Q

    user = request.user
    projects = list(MLProject.objects.filter(Q(owner=user) | Q(team=user)).distinct()
                    .prefetch_related("models").order_by("title")[:20])
    endpoints = list(endpoint_list().filter(project__in=projects))
    monitors = list(selectors.monitor_list().filter(endpoint__in=endpoints))
    last = selectors.last_runs(monitors)
    status = {m.endpoint_id: last.get(m.pk) for m in monitors}
    alerts = selectors.open_alert_counts()
    rows = [{"project": p, "endpoints": [{"endpoint": e, "run": status.get(e.pk), "alerts": alerts.get(e.name, 0)}
                                         for e in endpoints if e.project_id == p.pk]} for p in projects]
    return render(request, "observability/_mine_panel.html", {"rows": rows})
