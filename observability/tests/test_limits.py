"""A note on an alert is bounded by TEXT_MAX_CHARS, and a refusal names the limit."""

from __future__ import annotations

import pytest

from observability.models import Alert, Monitor
from observability.tests.factories import log_predictions, monitored_endpoint, run_monitor, traffic
from portal.tests.fixtures import client_for, flash

pytestmark = pytest.mark.django_db


def test_an_alert_note_past_the_text_limit_is_refused_and_the_alert_stays_open(settings):
    org, project, version, endpoint = monitored_endpoint()
    monitor = Monitor.objects.get(endpoint=endpoint)
    log_predictions(endpoint.name, version, traffic(version, rows=300, shift={"distance_km": 6.0}))
    run_monitor(monitor)
    alert = Alert.objects.get(condition="feature_drift")
    settings.TEXT_MAX_CHARS = 30

    lead = client_for(org.lead)
    refused = lead.post(f"/monitoring/alerts/{alert.pk}/acknowledge/", {"note": "n" * 31}, follow=True)
    assert any("at most 30 characters (TEXT_MAX_CHARS)" in m for m in flash(refused))
    alert.refresh_from_db()
    assert alert.state == "open" and alert.note == ""

    lead.post(f"/monitoring/alerts/{alert.pk}/acknowledge/", {"note": "On it"})
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.note == "On it"
