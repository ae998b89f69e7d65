"""Monitoring end to end on a really trained model: default monitors, drift caught on the one
feature that drifted, late labels, alerts (deduped, emailed, on the agenda, resolving themselves),
bad input, retention and maturity."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from observability import maturity
from observability.models import Alert, AlertState, Label, Monitor, MonitorPoint
from observability.tests.factories import log_predictions, monitored_endpoint, run_monitor, traffic
from portal.models import AuditEvent
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for
from proposals.models import AgendaItem, ItemKind
from serving.models import PredictionRecord
from workers.models import Job, Schedule
from workers.runtime import JobRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def live():
    return monitored_endpoint()


def test_every_deployment_gets_a_scheduled_default_monitor(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    assert monitor.name == "default" and set(monitor.checks) >= {"psi", "ks", "js", "missing", "quality"}
    assert Schedule.objects.get(name=f"monitor:{monitor.pk}").kind == "monitor_run"
    body = api_client_for(org.lead).get("/api/v1/monitors/", {"endpoint": endpoint.name}).json()
    assert body["results"][0]["id"] == monitor.pk and body["results"][0]["thresholds"]["psi_alert"] == 0.2


def test_drift_on_one_feature_flags_only_that_feature_and_alerts_once(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)

    log_predictions(endpoint.name, version, traffic(version, rows=600, seed=11))
    calm = run_monitor(monitor)
    assert calm.status in ("ok", "warn") and calm.drifted == [] and calm.row_count == 600
    assert not Alert.objects.exists()

    PredictionRecord.objects.all().delete()
    log_predictions(endpoint.name, version, traffic(version, rows=600, seed=12, shift={"distance_km": 6.0}))
    drifted = run_monitor(monitor)
    assert drifted.status == "alert" and drifted.drifted == ["distance_km"]
    assert drifted.features["distance_km"]["psi"] > 0.2 and drifted.features["items"]["status"] == "ok"
    assert MonitorPoint.objects.filter(run=drifted, feature="distance_km", statistic="psi").exists()

    alert = Alert.objects.get(condition="feature_drift")
    assert alert.state == AlertState.OPEN and alert.features == ["distance_km"] and endpoint.name in alert.summary
    # The technical lead is emailed a link to the drifting feature's chart.
    to_lead = [m for m in mail.outbox if org.lead.email in m.to]
    assert to_lead and "distance_km" in to_lead[0].body and "feature=distance_km#feature-distance_km" in to_lead[0].body
    # And the next ML Review has it on its agenda.
    item = AgendaItem.objects.get(pk=alert.agenda_item_id)
    assert item.kind == ItemKind.FOLLOW_UP and endpoint.name in item.title and item.meeting.state == "scheduled"

    alerts, emails = Alert.objects.count(), len(mail.outbox)
    run_monitor(monitor)  # still drifting: the same alerts, not second ones, and no new email
    assert Alert.objects.filter(condition="feature_drift").count() == 1
    assert Alert.objects.count() == alerts and len(mail.outbox) == emails

    # The drift goes away: after the configured clean runs the alert resolves itself.
    PredictionRecord.objects.all().delete()
    log_predictions(endpoint.name, version, traffic(version, rows=600, seed=13))
    for _ in range(monitor.clean_runs_to_resolve):
        run_monitor(monitor)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_by is None and "automatically" in alert.note
    assert not Alert.objects.exclude(state=AlertState.RESOLVED).exists()
    assert AuditEvent.objects.filter(verb="alert.resolved", object_id=str(alert.pk)).exists()


def test_an_empty_or_small_window_is_not_enough_data_never_drift(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    assert run_monitor(monitor).status == "not_enough_data"
    log_predictions(endpoint.name, version, traffic(version, rows=10, shift={"distance_km": 50.0}))
    run = run_monitor(monitor)
    assert run.status == "not_enough_data" and run.drifted == [] and not Alert.objects.exists()


def test_late_labels_update_model_quality(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    frame = traffic(version, rows=300, seed=21)
    ids = log_predictions(endpoint.name, version, frame)
    start, end = timezone.now() - dt.timedelta(hours=1), timezone.now()
    assert run_monitor(monitor, start=start, end=end).quality == {"rows": 0}

    api = api_client_for(org.lead)
    predictions = dict(PredictionRecord.objects.filter(prediction_id__in=ids).values_list("prediction_id", "output"))
    labels = [{"prediction_id": pid, "label": predictions[pid] + 2.0} for pid in ids[:200]]
    response = api.post("/api/v1/labels/", {"labels": labels + [{"prediction_id": "nope-1", "label": 3.0}]},
                        format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 200, "replaced": 0, "unknown": ["nope-1"]}
    run = run_monitor(monitor, start=start, end=end)
    assert run.quality["rows"] == 200 and run.quality["mae"] == pytest.approx(2.0)

    # A label sent again replaces the earlier one.
    again = api.post("/api/v1/labels/", {"labels": [{"prediction_id": ids[0], "label": predictions[ids[0]] + 4.0,
                                                     "time": "2026-11-30T10:00:00Z"}]}, format="json").json()
    assert again == {"accepted": 1, "replaced": 1, "unknown": []}
    assert Label.objects.get(prediction_id=ids[0]).value == pytest.approx(predictions[ids[0]] + 4.0)


def test_bad_input_is_refused_with_the_reason_and_loses_nothing(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    ids = log_predictions(endpoint.name, version, traffic(version, rows=5))
    api = api_client_for(org.lead)

    wrong = api.post("/api/v1/labels/", {"labels": [{"prediction_id": ids[0], "label": 1.0},
                                                    {"prediction_id": ids[1], "label": "late"}]}, format="json")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["index"] == 1
    assert not Label.objects.exists()
    too_many = api.post("/api/v1/labels/", {"labels": [{"prediction_id": "x", "label": 1}] * 10_001}, format="json")
    assert too_many.status_code == 400 and "10,000" in too_many.json()["detail"]

    for body, words in [({"thresholds": {"psi_alert": 42}}, "between"),
                        ({"thresholds": {"psi_warn": 0.3, "psi_alert": 0.2}}, "must not be above"),
                        ({"thresholds": {"bogus": 1}}, "Unknown threshold"),
                        ({"features": ["distance_km", "shoe_size"]}, "shoe_size"),
                        ({"checks": ["psi", "vibes"]}, "vibes"),
                        ({"schedule": "every day"}, "cron"),
                        ({"window_minutes": 0}, "window_minutes")]:
        response = api.patch(f"/api/v1/monitors/{monitor.pk}/", body, format="json")
        assert response.status_code == 400 and words in response.json()["detail"], (body, response.json())
    backwards = api.post(f"/api/v1/monitors/{monitor.pk}/run/", {"start": "2026-11-30T12:00:00Z",
                                                                 "end": "2026-11-30T11:00:00Z"}, format="json")
    assert backwards.status_code == 400 and "ends before it starts" in backwards.json()["detail"]

    monitor.refresh_from_db()
    assert monitor.thresholds == {} and monitor.features == [] and monitor.schedule == "*/15 * * * *"

    stranger = api_client_for(UserFactory(username="stranger"))
    response = stranger.patch(f"/api/v1/monitors/{monitor.pk}/", {"window_minutes": 30}, format="json")
    assert response.status_code == 403

    tuned = api.patch(f"/api/v1/monitors/{monitor.pk}/", {"window_minutes": 30, "schedule": "*/5 * * * *",
                                                          "thresholds": {"psi_alert": 0.3}}, format="json")
    assert tuned.status_code == 200 and tuned.json()["thresholds"]["psi_alert"] == 0.3
    assert Schedule.objects.get(name=f"monitor:{monitor.pk}").cron == "*/5 * * * *"


def test_alerts_are_acknowledged_and_resolved_with_a_note_through_the_api(live):
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    log_predictions(endpoint.name, version, traffic(version, rows=400, shift={"distance_km": 6.0}))
    run_monitor(monitor)
    alert = Alert.objects.get(condition="feature_drift")
    api = api_client_for(org.lead)
    listed = api.get("/api/v1/alerts/", {"state": "open", "endpoint": endpoint.name}).json()["results"]
    assert alert.pk in [a["id"] for a in listed]
    assert next(a for a in listed if a["id"] == alert.pk)["features"] == ["distance_km"]

    assert api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "Looking"}, format="json").json()["state"] \
        == "acknowledged"
    assert api.post(f"/api/v1/alerts/{alert.pk}/resolve/", {}, format="json").status_code == 400
    done = api.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "Upstream unit bug fixed"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    assert api.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "again"}, format="json").status_code == 409
    verbs = list(AuditEvent.objects.filter(object_type="alert", object_id=str(alert.pk)).values_list("verb", flat=True))
    assert {"alert.opened", "alert.acknowledged", "alert.resolved"} <= set(verbs)


def test_retention_deletes_old_predictions_and_labels(live, settings):
    from observability.services import retention_run

    org, project, version, endpoint = live
    old = log_predictions(endpoint.name, version, traffic(version, rows=20),
                          at=timezone.now() - dt.timedelta(days=settings.PREDICTION_RETENTION_DAYS + 1))
    fresh = log_predictions(endpoint.name, version, traffic(version, rows=20, seed=3))
    Label.objects.create(prediction_id=old[0], endpoint=endpoint.name, value=1.0,
                         time=timezone.now() - dt.timedelta(days=settings.PREDICTION_RETENTION_DAYS + 1))
    job = Job.objects.create(kind="monitoring_retention", params={})
    result = retention_run(JobRun(job))
    assert result["predictions"] == 20 and result["labels"] == 1
    assert set(PredictionRecord.objects.values_list("prediction_id", flat=True)) == set(fresh)
    assert Schedule.objects.filter(kind="monitoring_retention").exists()


def test_maturity_moves_with_evidence(live):
    from registry.models import TrainingConfig

    org, project, version, endpoint = live
    before = maturity.maturity_of(project)
    assert before["microsoft"]["level"] == 1 and before["google"]["level"] == 0
    assert any(n["key"] == "scheduled_training" for n in before["microsoft"]["next"]["needs"])

    config = TrainingConfig.objects.filter(registered_model__project=project).first()
    from workers.services import schedule_set

    schedule_set(name=f"retrain:{project.models.get().name}", kind="training_retrain", cron="0 3 * * 1",
                 params={"config_id": config.pk if config else None}, by=org.lead)
    log_predictions(endpoint.name, version, traffic(version, rows=100))
    run_monitor(Monitor.objects.get(endpoint=endpoint))
    after = api_client_for(org.lead).get(f"/api/v1/projects/{project.pk}/maturity/").json()
    assert after["microsoft"]["level"] == 2 and after["google"]["level"] == 1
    assert any(e["key"] == "monitoring" and e["met"] for e in after["google"]["evidence"])


def test_a_version_without_its_reference_sample_gets_one_from_a_job(live):
    from pathlib import Path
    from urllib.parse import urlparse

    from observability import references
    from registry import mlflow_client
    from workers.runtime import job_execute

    org, project, version, endpoint = live
    folder = Path(urlparse(mlflow_client.run_artifact_uri(version.mlflow_run_id)).path)
    (folder / "reference_sample.parquet").unlink()  # what a version trained before the sample looks like
    references.cache_clear()
    log_predictions(endpoint.name, version, traffic(version, rows=200))
    run = run_monitor(Monitor.objects.get(endpoint=endpoint))
    assert run.status in ("ok", "warn") and run.drifted == []
    assert run.prediction == {}  # no prediction reference until the sample exists; features checked on the dataset
    job = Job.objects.get(kind="reference_backfill")
    assert job.params == {"model_version_id": version.pk}
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert (folder / "reference_sample.parquet").exists() and job.result["rows"] == 2000
    again = run_monitor(Monitor.objects.get(endpoint=endpoint))
    assert again.prediction["status"] in ("ok", "warn") and not Job.objects.filter(kind="reference_backfill").exclude(
        pk=job.pk).exists()


def test_a_promise_missed_for_the_sustained_period_alerts_and_goes_on_the_agenda(live, settings):
    from observability.services import promise_set

    settings.PROMISE_SUSTAINED_HOURS = 2
    org, project, version, endpoint = live
    monitor = Monitor.objects.get(endpoint=endpoint)
    promise_set(project=project, by=org.lead, metric="mae", target=0.5)
    now = timezone.now().replace(second=0, microsecond=0)
    for hours_ago in (2, 1, 0):
        end = now - dt.timedelta(hours=hours_ago)
        ids = log_predictions(endpoint.name, version, traffic(version, rows=120, seed=30 + hours_ago),
                              at=end - dt.timedelta(minutes=1))
        outputs = dict(PredictionRecord.objects.filter(prediction_id__in=ids).values_list("prediction_id", "output"))
        Label.objects.bulk_create([Label(prediction_id=p, endpoint=endpoint.name, value=outputs[p] + 3.0,
                                         time=end) for p in ids])
        run = run_monitor(monitor, start=end - dt.timedelta(hours=1), end=end)
        assert run.quality["mae"] == pytest.approx(3.0)
        missed = Alert.objects.filter(condition="promise").first()
        assert (missed is not None) == (hours_ago == 0), hours_ago  # only once it has lasted two hours
    assert "promised mae ≤ 0.5" in missed.summary and "every measured run" in missed.summary
    item = AgendaItem.objects.get(pk=missed.agenda_item_id)
    assert item.proposal_id == project.proposal_id and "promise missed" in item.title.lower()
