"""The monitor run job: one window of an endpoint's logged predictions against its version's reference."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils import timezone

from observability import metrics, references, services
from observability.models import Check, Label, Monitor, MonitorRun, QualityPromise
from registry.models import ModelVersion
from serving.selectors import prediction_list

ANSWERS = ("primary", "canary")


def _window(job, monitor: Monitor) -> tuple[dt.datetime, dt.datetime]:
    params = job.params
    if params.get("start") or params.get("end"):
        return services.window_of(monitor, start=params.get("start"), end=params.get("end"))
    return services.window_of(monitor)


def _rows(monitor: Monitor, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    return list(prediction_list(endpoint=monitor.endpoint.name, start=start, end=end).order_by("-at")
                .values_list("prediction_id", "role", "model_version_id", "inputs", "output")
                [:settings.MONITOR_MAX_ROWS])


def _feature_results(reference, frame: pd.DataFrame, names: list[str], checks: set[str],
                     thresholds: dict[str, Any]) -> dict[str, dict[str, Any]]:
    results = {}
    for name in names:
        ref = reference.features.get(name)
        if ref is None:
            continue
        column = frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)
        if name in reference.numeric:
            result = metrics.numeric_drift(ref, references.numeric_column(column), min_rows=thresholds["min_rows"])
        else:
            result = metrics.categorical_drift(ref, references.categorical_column(column),
                                               min_rows=thresholds["min_rows"])
        result = _only_checks(result, checks)
        result["status"] = metrics.status_of(result, thresholds)
        results[name] = result
    return results


# Which statistics each check keeps (the others are cleared, so they cannot raise a status).
_CHECK_KEYS = {Check.MISSING: ("missing_rate_change",), Check.OUT_OF_RANGE: ("out_of_range_rate",),
               Check.PSI: ("psi",), Check.KS: ("ks_statistic", "ks_pvalue"), Check.JS: ("js_distance",)}


def _only_checks(result: dict[str, Any], checks: set[str]) -> dict[str, Any]:
    for check, keys in _CHECK_KEYS.items():
        if check not in checks:
            for key in keys:
                if key in result:
                    result[key] = None
    return result


def _quality(reference, answers: list[tuple], version_id: int) -> dict[str, Any]:
    """Model quality on the window's labelled answers of the primary version."""
    ids = [r[0] for r in answers if r[2] == version_id]
    labels = {}
    for i in range(0, len(ids), 2000):
        labels.update(Label.objects.filter(prediction_id__in=ids[i:i + 2000]).values_list("prediction_id", "value"))
    if not labels:
        return {"rows": 0}
    outputs = {r[0]: r[4] for r in answers if r[2] == version_id and r[0] in labels}
    keys = list(outputs)
    if reference.task == "regression":
        truth = references.numeric_column([labels[k] for k in keys])
        predicted = references.numeric_column([outputs[k] for k in keys])
        return metrics.regression_quality(truth, predicted)
    truth = np.asarray([str(labels[k]) for k in keys], dtype=object)
    classes = [str(c) for c in (reference.classes or sorted(set(truth)))]
    if reference.task == "binary":
        scores = references.numeric_column([outputs[k] for k in keys])
    else:
        scores = np.asarray([[o.get("probabilities", {}).get(c, 0.0) for c in classes] for o in
                             (outputs[k] for k in keys)], dtype=float)
    return metrics.classification_quality(truth, scores, classes)


def _agreement(reference, rows: list[tuple], primary_id: int) -> dict[str, Any]:
    """Each shadow against the primary's answer to the same request; each canary's outputs against
    the primary's over the same window."""
    result: dict[str, Any] = {}
    primary = {r[0]: r[4] for r in rows if r[1] == "primary" and r[2] == primary_id}
    others: dict[tuple[str, int], list[tuple]] = {}
    for row in rows:
        if row[1] in ("shadow", "canary") and row[2] != primary_id or row[1] == "shadow":
            others.setdefault((row[1], row[2]), []).append(row)
    for (role, version_id), group in others.items():
        key = f"{role}:{version_id}"
        if role == "shadow":
            pairs = [(primary[r[0]], r[4]) for r in group if r[0] in primary]
            if not pairs:
                continue
            a = references.prediction_values([p[0] for p in pairs], reference.task)
            b = references.prediction_values([p[1] for p in pairs], reference.task)
            result[key] = {"role": role, "model_version_id": version_id,
                           **metrics.agreement(a, b, task=reference.task)}
        else:
            mine = references.prediction_values([r[4] for r in group], reference.task)
            theirs = references.prediction_values(list(primary.values()), reference.task)
            summary: dict[str, Any] = {"role": role, "model_version_id": version_id, "rows": len(group)}
            if reference.task != "multiclass" and len(mine) and len(theirs):
                summary["mean_difference"] = float(np.nanmean(mine) - np.nanmean(theirs))
                summary["ks_statistic"], summary["ks_pvalue"] = metrics.ks_two_sample(
                    np.sort(theirs[~np.isnan(theirs)]), mine[~np.isnan(mine)])
            result[key] = summary
    return result


def _promise_breach(monitor: Monitor, quality: dict[str, Any], end: dt.datetime) -> str:
    """Whether the project has missed its promise for the whole sustained period, ending with this run."""
    promise = QualityPromise.objects.filter(project=monitor.endpoint.project).first()
    if promise is None or quality.get(promise.metric) is None:
        return ""
    if promise.kept_by(quality[promise.metric]):
        return ""
    since = end - dt.timedelta(hours=settings.PROMISE_SUSTAINED_HOURS)
    measured = [(at, q.get(promise.metric)) for at, q in
                MonitorRun.objects.filter(monitor=monitor, window_end__lt=end).exclude(quality={})
                .order_by("-window_end").values_list("window_end", "quality")[:1000]
                if q.get(promise.metric) is not None]
    # The anchor: the latest measurement at least the sustained period ago. It and every one since
    # must miss; without one, the miss has not lasted long enough to call it sustained.
    anchor = next((i for i, (at, _) in enumerate(measured) if at <= since), None)
    if anchor is None or any(promise.kept_by(value) for _, value in measured[:anchor + 1]):
        return ""
    sign = "≤" if promise.lower_is_better else "≥"
    return (f"{monitor.endpoint.project} promised {promise.metric} {sign} {promise.target:g}"
            f"{' (' + promise.success_metric + ')' if promise.success_metric else ''}; it has delivered "
            f"{quality[promise.metric]:.4g} now and missed the target in every measured run for "
            f"{settings.PROMISE_SUSTAINED_HOURS} hours.")


def evaluate(monitor: Monitor, rows: list[tuple], *, end: dt.datetime) -> dict[str, Any]:
    """Everything one run finds, as plain data (see MonitorRun)."""
    thresholds = services.thresholds_of(monitor)
    checks = set(monitor.checks or Check.values)
    answers = [r for r in rows if r[1] in ANSWERS]
    primary_rows = [r for r in answers if r[1] == "primary"]
    counts = Counter(r[2] for r in primary_rows) or Counter(r[2] for r in answers)
    empty = {"row_count": len(answers), "status": "not_enough_data", "features": {}, "drifted": []}
    if not counts:
        live = monitor.endpoint.live_revision
        return {**empty, "model_version_id": live.primary_id if live else None}
    version_id = counts.most_common(1)[0][0]
    version = ModelVersion.objects.select_related("registered_model", "dataset").get(pk=version_id)
    reference = references.reference_for(version)
    window = [r for r in (primary_rows or answers) if r[2] == version_id]
    frame = pd.DataFrame.from_records([r[3] if isinstance(r[3], dict) else {} for r in window])
    names = [n for n in (monitor.features or reference.names) if n in reference.features]
    # One KS test per feature: the p-value threshold is shared among them (Bonferroni), so a
    # clean window of ten features does not raise a false alert four times in ten.
    per_feature = {**thresholds, "ks_pvalue": thresholds["ks_pvalue"] / max(len(names), 1)}
    features = _feature_results(reference, frame, names, checks, per_feature)
    result: dict[str, Any] = {"row_count": len(window), "model_version_id": version_id, "features": features,
                              "reference": {"source": reference.source, "rows": reference.rows}}
    if Check.PREDICTION in checks and reference.prediction is not None:
        values = references.prediction_values([r[4] for r in window], reference.task)
        drift = (metrics.categorical_drift if reference.task == "multiclass" else metrics.numeric_drift)(
            reference.prediction, values, min_rows=thresholds["min_rows"])
        drift["status"] = metrics.status_of(drift, thresholds)
        result["prediction"] = drift
    if Check.QUALITY in checks:
        quality = _quality(reference, answers, version_id)
        result["quality"] = quality
        metric, limit = thresholds.get("quality_metric"), thresholds.get("quality_limit")
        value = quality.get(metric) if metric else None
        if value is not None and limit is not None:
            lower = metric in {"mae", "rmse", "log_loss"}
            if (value > limit) if lower else (value < limit):
                result["quality_breach"] = (f"{metric} is {value:.4g} on {quality['rows']:,} labelled predictions; "
                                            f"the monitor's limit is {'at most' if lower else 'at least'} {limit:g}.")
        result["promise_breach"] = _promise_breach(monitor, quality, end)
    if Check.AGREEMENT in checks:
        result["agreement"] = _agreement(reference, rows, version_id)
    statuses = {name: r["status"] for name, r in features.items()}
    result["drifted"] = sorted(name for name, status in statuses.items() if status == "alert")
    result["dataset_drift"] = metrics.dataset_drift(statuses, share=thresholds["dataset_drift_share"])
    enough = [s for s in statuses.values() if s != "not_enough_data"]
    if len(window) < thresholds["min_rows"] or (statuses and not enough):
        result["status"] = "not_enough_data"
    else:
        every = [*enough, (result.get("prediction") or {}).get("status", "ok")]
        if result.get("quality_breach") or result.get("promise_breach"):
            every.append("alert")
        result["status"] = "alert" if "alert" in every else "warn" if "warn" in every else "ok"
    return result


def monitor_run(job) -> dict[str, Any]:
    """Job handler: evaluate one window, store it, judge its alerts."""
    monitor = Monitor.objects.select_related("endpoint__project__proposal", "endpoint__live_revision").get(
        pk=job.params["monitor_id"])
    start, end = _window(job, monitor)
    job.progress(10, f"Reading {monitor.endpoint.name}'s predictions from {start:%Y-%m-%d %H:%M} to "
                     f"{end:%Y-%m-%d %H:%M} UTC")
    rows = _rows(monitor, start, end)
    job.progress(40, f"Checking {len(rows):,} logged predictions against the reference")
    result = evaluate(monitor, rows, end=end)
    run = services.run_record(monitor=monitor, job=job.job, start=start, end=end,
                              result=result)
    drifted = f"; drifting: {', '.join(result['drifted'])}" if result.get("drifted") else ""
    job.log(f"{result['row_count']:,} predictions, status {run.status}{drifted}.")
    return {"run": run.pk, "status": run.status, "row_count": run.row_count, "drifted": result.get("drifted", []),
            "at": timezone.now().isoformat()}
