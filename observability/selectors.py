"""Reads for monitoring: monitors, runs, the time series charts draw, alerts, promises, health."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from observability.models import Alert, AlertState, Monitor, MonitorPoint, MonitorRun, QualityPromise
from workers.cron import CronError
from workers.cron import parse as cron_parse


def monitor_list(*, endpoint: str | None = None, project=None) -> QuerySet[Monitor]:
    qs = Monitor.objects.select_related("endpoint__project")
    if endpoint:
        qs = qs.filter(endpoint__name=endpoint)
    if project is not None:
        qs = qs.filter(endpoint__project=project)
    return qs.order_by("endpoint__name", "name")


def monitor_get(*, monitor_id: int) -> Monitor:
    return get_object_or_404(Monitor.objects.select_related("endpoint__project__proposal", "endpoint__live_revision"),
                             pk=monitor_id)


def last_runs(monitors: list[Monitor]) -> dict[int, MonitorRun]:
    """Each monitor's latest run, in one query."""
    ids = [m.pk for m in monitors]
    latest: dict[int, MonitorRun] = {}
    if not ids:
        return latest
    newest = (MonitorRun.objects.filter(monitor_id__in=ids).values("monitor_id")
              .annotate(last=Max("id")).values_list("last", flat=True))
    for run in MonitorRun.objects.filter(pk__in=list(newest)).select_related("monitor__endpoint"):
        latest[run.monitor_id] = run
    return latest


def run_list(*, monitor: int | None = None, endpoint: str | None = None) -> QuerySet[MonitorRun]:
    qs = MonitorRun.objects.select_related("monitor__endpoint")
    if monitor is not None:
        qs = qs.filter(monitor_id=monitor)
    if endpoint:
        qs = qs.filter(monitor__endpoint__name=endpoint)
    return qs.order_by("-window_end", "-id")


def series(*, monitor: Monitor, statistic: str, since: dt.datetime,
           version_id: int | None = None) -> dict[str, list[tuple[dt.datetime, float]]]:
    """feature -> [(time, value)] of one statistic since ``since`` ("" is the prediction), of
    every run or only of the runs of one model version."""
    out: dict[str, list] = defaultdict(list)
    qs = MonitorPoint.objects.filter(monitor=monitor, statistic=statistic, at__gte=since)
    if version_id is not None:
        qs = qs.filter(run__model_version_id=version_id)
    for feature, at, value in qs.order_by("at").values_list("feature", "at", "value"):
        out[feature].append((at, value))
    return dict(out)


def alert_list(*, state: str | None = None, endpoint: str | None = None, project=None) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("monitor__endpoint__project", "acknowledged_by", "resolved_by")
    if state == "open":  # open means "not resolved yet": acknowledged alerts still need work
        qs = qs.exclude(state=AlertState.RESOLVED)
    elif state:
        qs = qs.filter(state=state)
    if endpoint:
        qs = qs.filter(endpoint=endpoint)
    if project is not None:
        qs = qs.filter(monitor__endpoint__project=project)
    return qs.order_by("-opened_at", "-id")


def alert_get(*, alert_id: int) -> Alert:
    return get_object_or_404(Alert.objects.select_related("monitor__endpoint__project"), pk=alert_id)


def project_task(*, project) -> str:
    """The task of the project's newest model version (what its promise can be measured in)."""
    from registry.models import ModelVersion

    return (ModelVersion.objects.filter(registered_model__project=project).order_by("-created_at")
            .values_list("params__task", flat=True).first()) or "regression"


def promise_get(*, project) -> QualityPromise | None:
    return QualityPromise.objects.filter(project=project).first()


def promise_delivered(*, project, since: dt.datetime) -> list[tuple[dt.datetime, float]]:
    """The promised metric as the project's monitors measured it, over time."""
    promise = promise_get(project=project)
    if promise is None:
        return []
    return list(MonitorPoint.objects.filter(monitor__endpoint__project=project, statistic=f"quality_{promise.metric}",
                                            at__gte=since).order_by("at").values_list("at", "value"))


def overdue(monitor: Monitor, last: MonitorRun | None, *, now: dt.datetime | None = None,
            grace: dt.timedelta = dt.timedelta(minutes=5)) -> bool:
    """A monitor whose schedule fired (more than ``grace`` ago) and which has not run since."""
    if not monitor.enabled or monitor.endpoint.state != "serving":
        return False
    now = now or timezone.now()
    try:
        expected = cron_parse(monitor.schedule).slot(now - grace)
    except CronError:
        return True
    since = last.created_at if last is not None else monitor.created_at
    return since < expected and monitor.created_at < expected


def worst_features(*, since: dt.datetime, limit: int = 10) -> list[dict[str, Any]]:
    """The drifting features (warn or alert) with the highest PSI in their latest run, across every monitor."""
    latest = (MonitorRun.objects.filter(window_end__gte=since).values("monitor_id")
              .annotate(last=Max("id")).values_list("last", flat=True))
    rows = []
    for run in MonitorRun.objects.filter(pk__in=list(latest)).select_related("monitor__endpoint"):
        for feature, result in (run.features or {}).items():
            if result.get("psi") is not None and result.get("status") in ("warn", "alert"):
                rows.append({"endpoint": run.monitor.endpoint.name, "feature": feature, "psi": result["psi"],
                             "status": result.get("status"), "run": run})
    rows.sort(key=lambda r: -r["psi"])
    return rows[:limit]


def open_alert_counts() -> dict[str, int]:
    return dict(Alert.objects.exclude(state=AlertState.RESOLVED).values_list("endpoint")
                .annotate(n=Count("id")).values_list("endpoint", "n"))

