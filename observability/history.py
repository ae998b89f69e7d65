"""The sentences of the monitoring verbs (monitors, alerts, promises).

Registered with ``portal.history`` from ``ObservabilityConfig.ready()``; pure functions of event dicts.
"""

from __future__ import annotations

from portal import history as h
from portal.history import Sentence, who
from registry.charts import metric_label
from workers.cron import describe

CONDITIONS = {"feature_drift": "feature drift", "dataset_drift": "dataset drift",
              "prediction_drift": "prediction drift", "quality": "model quality below its limit",
              "promise": "promise missed"}


def _data(e: dict) -> dict:
    return e.get("data") or {}


def monitor_created(e):
    d = _data(e)
    text = f"{who(e)} set up monitoring" + (f" of {d['endpoint']}" if d.get("endpoint") else "")
    if d.get("schedule"):
        text += f": {describe(d['schedule']).lower()}"
    if d.get("window_minutes"):
        text += f", over {d['window_minutes']}-minute windows"
    return text


def monitor_tuned(e):
    changed = h.listing(k.replace("_", " ") for k in (_data(e).get("after") or {}))
    return f"{who(e)} tuned the monitor" + (f" ({changed})" if changed else "")


def alert_opened(e):
    d = _data(e)
    condition = CONDITIONS.get(d.get("condition"), h.label(d.get("condition")))
    features = d.get("features") or []
    text = f"Monitor alert opened: {condition}" + (f" on {h.listing(features)}" if features else "")
    return text + (f" ({d['endpoint']})" if d.get("endpoint") and e.get("object_type") != "alert" else "")


def alert_acknowledged(e):
    return Sentence(f"{who(e)} acknowledged the alert", h.quote(_data(e).get("note")))


def alert_resolved(e):
    d = _data(e)
    if d.get("automatic") or not e.get("actor"):
        return Sentence("The alert resolved itself: the condition cleared", h.quote(d.get("note")))
    return Sentence(f"{who(e)} resolved the alert", h.quote(d.get("note")))


def promise_set(e):
    d = _data(e)
    action = "promised" if d.get("created", True) else "changed the promise to"
    return f"{who(e)} {action} {metric_label(d.get('metric') or '')} of {d.get('target')}"


def register() -> None:
    h.register_labels({"open": "open", "acknowledged": "acknowledged", "resolved": "resolved", "enabled": "on"})
    h.register("monitor.created", monitor_created)
    h.register("monitor.tuned", monitor_tuned, many=lambda e, n: f"{who(e)} tuned the monitor {h.times(n)}")
    h.register("alert.opened", alert_opened)
    h.register("alert.acknowledged", alert_acknowledged)
    h.register("alert.resolved", alert_resolved)
    h.register("promise.set", promise_set)
