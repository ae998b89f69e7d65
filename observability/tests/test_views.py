"""The monitoring pages and panels, as people use them."""

from __future__ import annotations

import pytest

from observability.models import Alert, Monitor, QualityPromise
from observability.tests.factories import log_predictions, monitored_endpoint, run_monitor, traffic
from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, flash, text_of
from workers.models import Job

pytestmark = pytest.mark.django_db


def test_monitoring_page_says_what_to_do_when_nothing_is_deployed():
    response = client_for(UserFactory()).get("/monitoring/")
    assert response.status_code == 200 and "Nothing to monitor yet" in text_of(response)


@pytest.fixture
def drifting():
    org, project, version, endpoint = monitored_endpoint()
    monitor = Monitor.objects.get(endpoint=endpoint)
    log_predictions(endpoint.name, version, traffic(version, rows=300, shift={"distance_km": 6.0}))
    run_monitor(monitor)
    return org, project, version, endpoint, monitor


def test_pages_show_the_drifting_feature_its_charts_and_the_alert(drifting):
    org, project, version, endpoint, monitor = drifting
    viewer = client_for(UserFactory(username="viewer"))  # everything is visible to every signed-in person
    home = text_of(viewer.get("/monitoring/"))
    assert endpoint.name in home and "distance_km" in home and "Feature drift" in home

    page = viewer.get(f"/monitoring/endpoints/{endpoint.name}/?feature=distance_km")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="feature-distance_km"' in body and "data-figure=" in body
    assert "Tune" not in text_of(page) and "Only the technical lead" in text_of(page)
    for panel in (f"/monitoring/endpoints/{endpoint.name}/panel/", f"/monitoring/versions/{version.pk}/panel/",
                  f"/monitoring/projects/{project.pk}/panel/", "/monitoring/promises/panel/"):
        assert viewer.get(panel).status_code == 200, panel
    assert "distance_km" in text_of(viewer.get(f"/monitoring/versions/{version.pk}/panel/"))


def test_owners_tune_run_and_handle_alerts_from_the_page(drifting):
    org, project, version, endpoint, monitor = drifting
    lead = client_for(org.lead)
    response = lead.post(f"/monitoring/monitors/{monitor.pk}/tune/",
                         {"checks": ["psi", "ks"], "window_minutes": "30", "schedule": "*/5 * * * *",
                          "t_psi_alert": "0.25", "enabled": "on", "features": ""}, follow=True)
    assert "Monitor saved" in " ".join(flash(response))
    monitor.refresh_from_db()
    assert monitor.checks == ["psi", "ks"] and monitor.window_minutes == 30 and monitor.thresholds["psi_alert"] == 0.25

    bad = lead.post(f"/monitoring/monitors/{monitor.pk}/tune/", {"checks": ["psi"], "schedule": "soon",
                                                                  "enabled": "on"}, follow=True)
    assert any("cron" in m for m in flash(bad))
    monitor.refresh_from_db()
    assert monitor.schedule == "*/5 * * * *"

    started = lead.post(f"/monitoring/monitors/{monitor.pk}/run/", follow=True)
    assert "Monitor run started" in " ".join(flash(started)) and Job.objects.filter(kind="monitor_run").count() == 2

    alert = Alert.objects.get(condition="feature_drift")
    refused = lead.post(f"/monitoring/alerts/{alert.pk}/resolve/", {"note": ""}, follow=True)
    assert any("needs a note" in m for m in flash(refused))
    lead.post(f"/monitoring/alerts/{alert.pk}/acknowledge/", {"note": "On it"})
    lead.post(f"/monitoring/alerts/{alert.pk}/resolve/", {"note": "Fixed the km/miles bug"})
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.note == "Fixed the km/miles bug"


def test_the_technical_lead_sets_the_promise(drifting):
    org, project, version, endpoint, monitor = drifting
    response = client_for(org.lead).post(f"/monitoring/projects/{project.pk}/promise/",
                                         {"metric": "mae", "target": "6"}, follow=True)
    assert "Promise recorded" in " ".join(flash(response))
    assert QualityPromise.objects.get(project=project).target == 6.0
    wrong = client_for(org.lead).post(f"/monitoring/projects/{project.pk}/promise/",
                                      {"metric": "auc", "target": "0.9"}, follow=True)
    assert any("regression" in m for m in flash(wrong))
    other = client_for(UserFactory(username="someone")).post(f"/monitoring/projects/{project.pk}/promise/",
                                                             {"metric": "mae", "target": "1"}, follow=True)
    assert any("Only the technical lead" in m for m in flash(other))
    assert QualityPromise.objects.get(project=project).target == 6.0
    # The Council page's panel says what was promised, for everyone.
    panel = " ".join(text_of(client_for(UserFactory(username="reader")).get("/monitoring/promises/panel/")).split())
    assert project.title in panel and "Promised mae ≤ 6; delivered" in panel


def test_the_monitoring_routes_are_in_the_api_schema():
    schema = client_for(UserFactory(username="reader")).get("/api/schema/", {"format": "json"}).json()
    for path, methods in {"/api/v1/monitors/": {"get"}, "/api/v1/monitors/{monitor_id}/": {"get", "patch"},
                          "/api/v1/monitors/{monitor_id}/run/": {"post"}, "/api/v1/monitor-runs/": {"get"},
                          "/api/v1/labels/": {"post"}, "/api/v1/alerts/": {"get"},
                          "/api/v1/alerts/{alert_id}/acknowledge/": {"post"},
                          "/api/v1/alerts/{alert_id}/resolve/": {"post"},
                          "/api/v1/projects/{project_id}/maturity/": {"get"}}.items():
        assert methods <= set(schema["paths"][path]), path
