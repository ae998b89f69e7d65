"""Writes for monitoring: default and tuned monitors, runs started by hand, labels, alerts and
their follow-ups, promises, and retention."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from observability import metrics, permissions
from observability.models import (
    QUALITY_METRICS,
    Alert,
    AlertState,
    Check,
    Condition,
    Label,
    Monitor,
    MonitorPoint,
    MonitorRun,
    QualityPromise,
)
from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.limits import text_check
from portal.models import NotificationKind, User
from portal.notifications import notify
from portal.services import audit_record
from serving.models import Endpoint

logger = logging.getLogger(__name__)

MAX_LABELS = 10_000
MAX_WINDOW = dt.timedelta(days=31)
# Thresholds an owner may tune, with the range each must lie in.
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "psi_warn": (0.0, 10.0), "psi_alert": (0.0, 10.0), "ks_pvalue": (0.0, 1.0), "ks_min_rows": (1, 10_000_000),
    "js_warn": (0.0, 1.0), "js_alert": (0.0, 1.0), "missing_rate_change": (0.0, 1.0),
    "out_of_range_rate": (0.0, 1.0), "dataset_drift_share": (0.0, 1.0), "min_rows": (1, 10_000_000),
    "quality_limit": (-1e12, 1e12),
}


def thresholds_of(monitor: Monitor) -> dict[str, Any]:
    return {**metrics.DEFAULT_THRESHOLDS, **(monitor.thresholds or {})}


def _require(allowed: tuple[bool, str]) -> None:
    ok, reason = allowed
    if not ok:
        raise Forbidden(reason)


def _version_features(endpoint: Endpoint) -> list[str]:
    live = endpoint.live_revision
    if live is None or live.primary is None:
        return []
    params = live.primary.params or {}
    return [*params.get("numeric_features", []), *params.get("categorical_features", [])]


# --- monitors --------------------------------------------------------------------------------------


def _schedule(monitor: Monitor, by: User | None) -> None:
    from workers.services import schedule_set, schedule_stop
    from workers.selectors import schedule_get

    if monitor.enabled:
        schedule_set(name=monitor.schedule_name, kind="monitor_run", cron=monitor.schedule,
                     params={"monitor_id": monitor.pk}, obj=monitor, by=by)
    elif schedule_get(name=monitor.schedule_name) is not None:
        schedule_stop(name=monitor.schedule_name, by=by)


def monitor_ensure_default(*, endpoint: Endpoint, by: User | None = None) -> Monitor:
    """Every deployment is monitored from its first deploy: every check, the default window and schedule."""
    monitor, created = Monitor.objects.get_or_create(
        endpoint=endpoint, name="default",
        defaults={"checks": list(Check.values), "window_minutes": settings.MONITOR_DEFAULT_WINDOW_MINUTES,
                  "schedule": settings.MONITOR_DEFAULT_SCHEDULE, "created_by": by},
    )
    if created:
        _schedule(monitor, by)
        audit_record(actor=by, verb="monitor.created", obj=monitor, to_state="enabled",
                     data={"endpoint": endpoint.name, "schedule": monitor.schedule,
                           "window_minutes": monitor.window_minutes})
    return monitor


def _number(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DomainError(f"{field} must be a number.", field=field)
    if not low <= value <= high:
        raise DomainError(f"{field} must be between {low:g} and {high:g}; {value:g} is not.", field=field)
    return value


def monitor_update(*, monitor: Monitor, by: User, data: dict[str, Any]) -> Monitor:
    """Tune a monitor: checks, features, window, thresholds, schedule, auto-resolve, on or off."""
    from workers.services import schedule_check

    project = monitor.endpoint.project
    _require(permissions.can_tune_monitor(by, project))
    changes: dict[str, Any] = {}
    if "checks" in data:
        checks = data["checks"]
        if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
            raise DomainError("checks must be a list of check names.", field="checks")
        unknown = [c for c in checks if c not in Check.values]
        if unknown:
            raise DomainError(f"Unknown check(s): {', '.join(unknown)}. Checks are: {', '.join(Check.values)}.",
                              field="checks")
        changes["checks"] = list(dict.fromkeys(checks))
    if "features" in data:
        features = data["features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise DomainError("features must be a list of feature names (empty for all).", field="features")
        known = _version_features(monitor.endpoint)
        unknown = [f for f in features if known and f not in known]
        if unknown:
            raise DomainError(f"Unknown feature(s) for {monitor.endpoint.name}: {', '.join(unknown)}. "
                              f"Its features are: {', '.join(known)}.", field="features")
        changes["features"] = list(dict.fromkeys(features))
    if "window_minutes" in data:
        value = data["window_minutes"]
        if isinstance(value, bool) or not isinstance(value, int) or not 5 <= value <= 31 * 24 * 60:
            raise DomainError("window_minutes must be a whole number of minutes from 5 to 44640 (31 days).",
                              field="window_minutes")
        changes["window_minutes"] = value
    if "thresholds" in data:
        thresholds = data["thresholds"]
        if not isinstance(thresholds, dict):
            raise DomainError("thresholds must be an object.", field="thresholds")
        merged = dict(monitor.thresholds or {})
        for key, value in thresholds.items():
            if key == "quality_metric":
                if value is not None and value not in {m for ms in QUALITY_METRICS.values() for m in ms}:
                    raise DomainError(f"quality_metric {value!r} is not a quality metric.", field="thresholds")
            elif key not in THRESHOLD_RANGES:
                raise DomainError(f"Unknown threshold {key!r}. Thresholds are: "
                                  f"{', '.join([*THRESHOLD_RANGES, 'quality_metric'])}.", field="thresholds")
            elif value is not None:
                _number(value, f"thresholds.{key}", *THRESHOLD_RANGES[key])
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        effective = {**metrics.DEFAULT_THRESHOLDS, **merged}
        for low, high in (("psi_warn", "psi_alert"), ("js_warn", "js_alert")):
            if effective[low] > effective[high]:
                raise DomainError(f"thresholds.{low} ({effective[low]:g}) must not be above "
                                  f"thresholds.{high} ({effective[high]:g}).", field="thresholds")
        if ("quality_metric" in merged) != ("quality_limit" in merged):
            raise DomainError("quality_metric and quality_limit go together.", field="thresholds")
        changes["thresholds"] = merged
    if "schedule" in data:
        changes["schedule"] = schedule_check(data["schedule"] if isinstance(data["schedule"], str) else "")
    if "clean_runs_to_resolve" in data:
        value = data["clean_runs_to_resolve"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise DomainError("clean_runs_to_resolve must be a whole number from 0 (never) to 100.",
                              field="clean_runs_to_resolve")
        changes["clean_runs_to_resolve"] = value
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise DomainError("enabled must be true or false.", field="enabled")
        changes["enabled"] = data["enabled"]
    unknown_fields = set(data) - {"checks", "features", "window_minutes", "thresholds", "schedule",
                                  "clean_runs_to_resolve", "enabled"}
    if unknown_fields:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown_fields))}.")
    with transaction.atomic():
        monitor = Monitor.objects.select_for_update(of=("self",)).select_related("endpoint").get(pk=monitor.pk)
        before = {k: getattr(monitor, k) for k in changes}
        for key, value in changes.items():
            setattr(monitor, key, value)
        monitor.updated_at = timezone.now()
        monitor.save()
        if {"schedule", "enabled"} & set(changes):
            _schedule(monitor, by)
        audit_record(actor=by, verb="monitor.tuned", obj=monitor, data={"before": before, "after": changes})
    return monitor


def _when(value, field: str) -> dt.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise DomainError(f"{field} must be an ISO 8601 date and time, like 2026-11-30T12:00:00Z.", field=field)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.timezone.utc)
    return parsed


def window_of(monitor: Monitor, *, start=None, end=None, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The window a run reads: explicit, or the monitor's last ``window_minutes`` up to now."""
    if start is None and end is None:
        end = (now or timezone.now()).replace(second=0, microsecond=0)
        return end - dt.timedelta(minutes=monitor.window_minutes), end
    end = _when(end, "end") if end is not None else (now or timezone.now())
    start = _when(start, "start") if start is not None else end - dt.timedelta(minutes=monitor.window_minutes)
    if end <= start:
        raise DomainError("The window ends before it starts: end must be after start.", field="end")
    if end - start > MAX_WINDOW:
        raise DomainError("A window is at most 31 days long.", field="start")
    return start, end


def monitor_run_start(*, monitor: Monitor, by: User, start=None, end=None):
    """Run a monitor now, on its usual window or on an explicit one."""
    from workers.services import job_start

    _require(permissions.can_tune_monitor(by, monitor.endpoint.project))
    window_start, window_end = window_of(monitor, start=start, end=end)
    return job_start(kind="monitor_run", started_by=by, obj=monitor,
                     params={"monitor_id": monitor.pk, "start": window_start.isoformat(),
                             "end": window_end.isoformat()})


def run_record(*, monitor: Monitor, job, start: dt.datetime, end: dt.datetime, result: dict[str, Any]) -> MonitorRun:
    """Store one run and its numbers as points of the monitor's time series, then judge its alerts."""
    with transaction.atomic():
        run = MonitorRun.objects.create(
            monitor=monitor, job=job, window_start=start, window_end=end,
            model_version_id=result.get("model_version_id"), row_count=result["row_count"],
            status=result["status"], features=result["features"], prediction=result.get("prediction") or {},
            quality=result.get("quality") or {}, agreement=result.get("agreement") or {},
            dataset_drift=result.get("dataset_drift", False), drifted=result.get("drifted", []),
        )
        points = []
        for feature, values in [*result["features"].items(), ("", result.get("prediction") or {})]:
            for check in ("psi", "ks_statistic", "ks_pvalue", "js_distance", "missing_rate", "out_of_range_rate",
                          "chi2_pvalue"):
                value = values.get(check)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    points.append(MonitorPoint(monitor=monitor, run=run, at=end, feature=feature, statistic=check,
                                               value=float(value)))
        for key, value in (result.get("quality") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                points.append(MonitorPoint(monitor=monitor, run=run, at=end, feature="", statistic=f"quality_{key}",
                                           value=float(value)))
        MonitorPoint.objects.bulk_create(points, batch_size=1000)
        alerts_judge(run=run, result=result)
    return run


# --- labels ----------------------------------------------------------------------------------------


def labels_ingest(*, by: User | None, labels: Any) -> dict[str, Any]:
    """Store ground truth for logged predictions. Unknown ids are reported, not fatal; a label of the
    wrong type for its model's task refuses the batch naming its index, so nothing is half stored."""
    from observability.references import _classes
    from registry.models import ModelVersion
    from serving.selectors import prediction_versions

    if not isinstance(labels, list):
        raise DomainError('Send {"labels": [{"prediction_id": ..., "label": ..., "time": ...}, ...]}.',
                          field="labels")
    if len(labels) > MAX_LABELS:
        raise DomainError(f"At most {MAX_LABELS:,} labels per call; this one has {len(labels):,}.", field="labels")
    errors, parsed = [], []
    now = timezone.now()
    for index, item in enumerate(labels):
        if not isinstance(item, dict) or not isinstance(item.get("prediction_id"), str) or "label" not in item:
            errors.append({"index": index, "reason": "each label needs a prediction_id (a string) and a label"})
            continue
        when = now
        if item.get("time") is not None:
            when = parse_datetime(item["time"]) if isinstance(item["time"], str) else None
            if when is None:
                errors.append({"index": index, "reason": "time must be an ISO 8601 date and time"})
                continue
            if timezone.is_naive(when):
                when = timezone.make_aware(when, dt.timezone.utc)
        parsed.append((index, item["prediction_id"][:40], item["label"], when))
    found = prediction_versions(prediction_ids=list({p[1] for p in parsed}))
    versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in={v for _, v in found.values()})}
    classes: dict[int, list | None] = {}
    rows, unknown = [], []
    for index, prediction_id, value, when in parsed:
        if prediction_id not in found:
            unknown.append(prediction_id)
            continue
        endpoint, version_id = found[prediction_id]
        version = versions.get(version_id)
        task = (version.params or {}).get("task", "regression") if version else "regression"
        if task == "regression":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                errors.append({"index": index, "reason": f"{endpoint} is a regression: its label must be a number"})
                continue
        else:
            if version_id not in classes:
                classes[version_id] = _classes(version) if version else None
            known = classes[version_id]
            if isinstance(value, (dict, list)) or value is None or (known and str(value) not in map(str, known)):
                allowed = ", ".join(map(str, known or []))
                errors.append({"index": index, "reason": f"{endpoint} is a classification: its label must be one "
                                                         f"of its classes ({allowed})"})
                continue
        rows.append(Label(prediction_id=prediction_id, endpoint=endpoint, value=value, time=when, received_at=now,
                          received_by=by if by is not None and by.is_authenticated else None))
    if errors:
        raise DomainError(f"{len(errors)} label(s) are not valid; nothing was stored.", field="labels",
                          errors=errors)
    replaced = Label.objects.filter(prediction_id__in=[r.prediction_id for r in rows]).count()
    Label.objects.bulk_create(rows, update_conflicts=True, unique_fields=["prediction_id"],
                              update_fields=["value", "time", "received_at", "received_by"], batch_size=1000)
    return {"accepted": len(rows), "replaced": replaced, "unknown": unknown}


# --- alerts ----------------------------------------------------------------------------------------


def _breaches(run: MonitorRun, result: dict[str, Any], monitor: Monitor) -> dict[str, tuple[str, list[str]]]:
    """The conditions this run breached: condition -> (summary, features)."""
    found: dict[str, tuple[str, list[str]]] = {}
    name = monitor.endpoint.name
    drifted = result.get("drifted") or []
    if drifted:
        share = f"; {len(drifted)} of {len(result['features'])} features, so the dataset drifts" \
            if result.get("dataset_drift") else ""
        found[Condition.FEATURE_DRIFT] = (
            f"{name}: {', '.join(drifted)} drifted from the training data{share} "
            f"(window {run.window_start:%Y-%m-%d %H:%M} to {run.window_end:%H:%M} UTC, {run.row_count:,} predictions).",
            list(drifted))
    if (result.get("prediction") or {}).get("status") == "alert":
        found[Condition.PREDICTION_DRIFT] = (f"{name}: the prediction distribution drifted from the training "
                                             "predictions.", [])
    limit_breach = result.get("quality_breach")
    if limit_breach:
        found[Condition.QUALITY] = (f"{name}: {limit_breach}", [])
    promise_breach = result.get("promise_breach")
    if promise_breach:
        found[Condition.PROMISE] = (f"{name}: {promise_breach}", [])
    return found


def alerts_judge(*, run: MonitorRun, result: dict[str, Any]) -> list[Alert]:
    """Open an alert for each newly breached condition (one per monitor and condition while it is
    not resolved); count clean runs on the others and resolve them after enough in a row."""
    monitor = run.monitor
    if result["status"] == "not_enough_data":
        return []
    breaches = _breaches(run, result, monitor)
    opened = []
    current = {a.condition: a for a in Alert.objects.select_for_update().filter(monitor=monitor)
               .exclude(state=AlertState.RESOLVED)}
    now = timezone.now()
    for condition, (summary, features) in breaches.items():
        alert = current.get(condition)
        if alert is not None:
            alert.last_breach_at, alert.clean_runs, alert.cleared_at = now, 0, None
            alert.features = sorted(set(alert.features) | set(features))
            alert.save(update_fields=["last_breach_at", "clean_runs", "cleared_at", "features"])
            continue
        alert = Alert.objects.create(monitor=monitor, endpoint=monitor.endpoint.name, condition=condition,
                                     summary=summary, features=features, opened_by_run=run, opened_at=now,
                                     last_breach_at=now)
        audit_record(actor=None, verb="alert.opened", obj=alert, to_state=AlertState.OPEN,
                     data={"endpoint": alert.endpoint, "condition": condition, "features": features, "run": run.pk})
        _follow_up(alert)
        transaction.on_commit(lambda pk=alert.pk: alert_notify(alert_id=pk))
        opened.append(alert)
    for condition, alert in current.items():
        if condition in breaches:
            continue
        alert.clean_runs += 1
        alert.cleared_at = alert.cleared_at or now
        alert.save(update_fields=["clean_runs", "cleared_at"])
        if monitor.clean_runs_to_resolve and alert.clean_runs >= monitor.clean_runs_to_resolve:
            _resolve(alert, by=None, note=f"The condition cleared for {alert.clean_runs} runs in a row; "
                                          "resolved automatically.")
    return opened


def _follow_up(alert: Alert) -> None:
    from proposals.services import agenda_follow_up_add

    project = alert.monitor.endpoint.project
    item = agenda_follow_up_add(
        title=f"Alert: {alert.get_condition_display().lower()} on {alert.endpoint}",
        notes=f"{alert.summary}\nCharts: {settings.PORTAL_URL.rstrip('/')}{alert_url(alert)}", proposal=project.proposal)
    Alert.objects.filter(pk=alert.pk).update(agenda_item_id=item.pk)


def alert_url(alert: Alert) -> str:
    """Where the alert's email points: the endpoint's monitoring, at the first breached feature."""
    from django.urls import reverse

    url = reverse("observability:endpoint_monitoring", args=[alert.endpoint]) + f"?alert={alert.pk}"
    if alert.features:
        url += f"&feature={alert.features[0]}#feature-{alert.features[0]}"
    return url


def alert_recipients(alert: Alert) -> dict[int, User]:
    """The people an alert concerns, by id: the project's owner and team, the proposal's technical
    lead and team (the active ones)."""
    project = alert.monitor.endpoint.project
    people = [project.owner, project.proposal.technical_lead, *project.team.all(), *project.proposal.team.all()]
    return {u.pk: u for u in people if u is not None and u.is_active}


def alert_notify(*, alert_id: int) -> int:
    """Notify the technical lead and the project team, each once per alert, by email unless they
    chose otherwise for alerts (``portal.notifications``). Returns how many people were notified."""
    alert = Alert.objects.select_related("monitor__endpoint__project__proposal").get(pk=alert_id)
    context = {"alert": alert, "url": settings.PORTAL_URL.rstrip("/") + alert_url(alert),
               "project": alert.monitor.endpoint.project}
    subject = f"[alert] {alert.get_condition_display()} on {alert.endpoint}"
    text = render_to_string("observability/email/alert.txt", context)
    html = render_to_string("observability/email/alert.html", context)
    notified = 0
    for _, user in sorted(alert_recipients(alert).items()):
        notify(user=user, kind=NotificationKind.ALERT, title=f"{alert.get_condition_display()} on {alert.endpoint}",
               body=alert.summary, url=alert_url(alert), dedupe_key=f"alert:{alert.pk}", obj=alert,
               email_subject=subject, email_text=text, email_html=html)
        notified += 1
    return notified


def _lock_alert(alert: Alert) -> Alert:
    return Alert.objects.select_for_update(of=("self",)).select_related("monitor__endpoint__project").get(pk=alert.pk)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, by: User, note: str = "") -> Alert:
    alert = _lock_alert(alert)
    note = text_check(note, field="note")
    _require(permissions.can_handle_alert(by, alert.monitor.endpoint.project))
    if alert.state != AlertState.OPEN:
        raise InvalidTransition(f"This alert is {alert.state}; only an open alert can be acknowledged.",
                                state=alert.state, allowed_actions=["resolve"] if alert.state != "resolved" else [])
    alert.state, alert.acknowledged_at, alert.acknowledged_by = AlertState.ACKNOWLEDGED, timezone.now(), by
    if note.strip():
        alert.note = note.strip()
    alert.save()
    audit_record(actor=by, verb="alert.acknowledged", obj=alert, from_state=AlertState.OPEN,
                 to_state=alert.state, data={"note": note.strip()})
    return alert


def _resolve(alert: Alert, *, by: User | None, note: str) -> Alert:
    from_state = alert.state
    alert.state, alert.resolved_at, alert.resolved_by, alert.note = AlertState.RESOLVED, timezone.now(), by, note
    alert.save()
    audit_record(actor=by, verb="alert.resolved", obj=alert, from_state=from_state, to_state=alert.state,
                 data={"note": note, "automatic": by is None})
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, by: User, note: str) -> Alert:
    alert = _lock_alert(alert)
    _require(permissions.can_handle_alert(by, alert.monitor.endpoint.project))
    if alert.state == AlertState.RESOLVED:
        raise InvalidTransition("This alert is already resolved.", state=alert.state, allowed_actions=[])
    note = text_check(note, field="note")
    if not note.strip():
        raise DomainError("Say what was done: resolving an alert needs a note.", field="note")
    return _resolve(alert, by=by, note=note.strip())


# --- promises --------------------------------------------------------------------------------------


def promise_set(*, project, by: User, metric: str, target: Any) -> QualityPromise:
    """Tie the proposal's success metric to a model quality metric and a target."""
    from observability.selectors import project_task

    _require(permissions.can_set_promise(by, project))
    task = project_task(project=project)
    allowed = QUALITY_METRICS.get(task, [])
    if metric not in allowed:
        raise DomainError(f"{project} is a {task} project: its quality metric is one of {', '.join(allowed)}.",
                          field="metric")
    if isinstance(target, str):
        try:
            target = float(target)
        except ValueError:
            raise DomainError("The target must be a number.", field="target") from None
    _number(target, "target", -1e12, 1e12)
    proposal = project.proposal
    success = " ".join(str(x) for x in (proposal.success_metric_name, proposal.success_metric_target) if x)
    with transaction.atomic():
        promise, created = QualityPromise.objects.update_or_create(
            project=project, defaults={"metric": metric, "target": float(target), "success_metric": success,
                                       "set_by": by, "set_at": timezone.now()})
        audit_record(actor=by, verb="promise.set", obj=project, data={"metric": metric, "target": float(target),
                                                                      "created": created})
    return promise


# --- retention -------------------------------------------------------------------------------------


def retention_run(job) -> dict[str, int]:
    """Delete predictions, labels and monitor points older than PREDICTION_RETENTION_DAYS."""
    from serving.services import predictions_purge

    before = timezone.now() - dt.timedelta(days=settings.PREDICTION_RETENTION_DAYS)
    predictions = predictions_purge(before=before)
    labels = Label.objects.filter(time__lt=before).delete()[0]
    runs = MonitorRun.objects.filter(window_end__lt=before).delete()[0]
    job.log(f"Deleted {predictions:,} predictions, {labels:,} labels and {runs:,} monitor run rows older than "
            f"{settings.PREDICTION_RETENTION_DAYS} days.")
    return {"predictions": predictions, "labels": labels, "runs": runs}
