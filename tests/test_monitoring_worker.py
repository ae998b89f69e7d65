"""A monitor run started through the API is picked up by a real Celery worker process on the
`monitoring` queue, and its results come back through the API."""

from __future__ import annotations

import pytest

from conftest import wait_for
from observability.models import Monitor
from observability.tests.factories import log_predictions, monitored_endpoint, traffic
from portal.tests.fixtures import api_client_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_monitor_run_requested_through_the_api_runs_on_the_worker(celery_worker_process):
    org, project, version, endpoint = monitored_endpoint("eta-worker")
    monitor = Monitor.objects.get(endpoint=endpoint)
    log_predictions(endpoint.name, version, traffic(version, rows=300, shift={"courier_load": 4.0}))
    api = api_client_for(org.lead)

    response = api.post(f"/api/v1/monitors/{monitor.pk}/run/", {}, format="json")
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "monitor_run" and job["queue"] == "monitoring"

    def finished():
        body = api.get(f"/api/v1/jobs/{job['id']}/").json()
        return body if body["state"] in ("succeeded", "failed") else None

    body = wait_for(finished, timeout=120, message="the worker to run the monitor")
    assert body["state"] == "succeeded", body.get("error")
    runs = api.get("/api/v1/monitor-runs/", {"monitor": monitor.pk}).json()["results"]
    assert runs[0]["row_count"] == 300 and runs[0]["status"] == "alert"
    assert "courier_load" in runs[0]["drifted"] and runs[0]["features"]["courier_load"]["psi"] > 0.2
    alerts = api.get("/api/v1/alerts/", {"state": "open", "endpoint": endpoint.name}).json()["results"]
    assert any(a["condition"] == "feature_drift" and a["features"] == ["courier_load"] for a in alerts), (alerts, runs[0]["drifted"])
