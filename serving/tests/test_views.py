"""The deployment pages: what each person sees, and the forms that change an endpoint."""

from __future__ import annotations

import pytest

from portal.tests.fixtures import client_for, flash, text_of
from serving.models import Endpoint, EndpointRevision, PredictionRecord
from serving.services import revision_go_live
from serving.tests.factories import publish, project_with_versions
from serving import services
from django.utils import timezone

pytestmark = pytest.mark.django_db




@pytest.fixture
def live(django_capture_on_commit_callbacks):
    org, project, (v1, v2) = project_with_versions()
    with django_capture_on_commit_callbacks(execute=False):
        publish(services.deployment_deploy(name="delivery-eta", model_version=v1, reason="First model", by=org.lead))
        publish(services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="Shadow v2", by=org.lead))
    now = timezone.now()
    rows = []
    for i in range(30):
        rows.append(PredictionRecord(prediction_id=f"p{i}", endpoint="delivery-eta", revision=2, model_version_id=v1.pk,
                                     role="primary", inputs={}, output=30.0 + i, latency_ms=0.4, at=now))
        rows.append(PredictionRecord(prediction_id=f"p{i}", endpoint="delivery-eta", revision=2, model_version_id=v2.pk,
                                     role="shadow", inputs={}, output=31.0 + i, latency_ms=0.6, at=now))
    PredictionRecord.objects.bulk_create(rows)
    return org, project, v1, v2


def test_the_deployments_page_lists_endpoints_with_their_last_hour(live):
    org, project, v1, v2 = live
    page = text_of(client_for(org.outsider).get("/deployments/"))
    assert "delivery-eta" in page and project.title in page and "Serving" in page
    assert "v1" in page and "shadow" in page and "30.0" not in page  # 30 requests over 60 minutes: 0.5 a minute
    assert "0.5" in page and "0.40 ms" in page


def test_the_endpoint_page_shows_live_config_history_agreement_and_try_it(live):
    org, project, v1, v2 = live
    response = client_for(org.lead).get("/deployments/endpoints/delivery-eta/")
    page = text_of(response)
    assert response.status_code == 200
    assert "Live configuration" in page and "primary" in page and f"{v2}" in page
    assert "Revision 2" in page and "Add shadow" in page and "Shadow v2" in page
    assert "mean absolute difference from the primary 1.000 over 30 requests" in page
    assert "Approved by the ML Council" in page
    assert "curl -s -X POST" in page and '"distance_km"' in response.content.decode().replace("&quot;", '"')
    # Only one version was ever primary: nothing to roll back to, so no such form.
    assert "Deploy a version as primary" in page and "Roll back" not in page


def test_people_who_may_not_deploy_see_the_reason_instead_of_the_forms(live):
    org, project, v1, v2 = live
    page = text_of(client_for(org.outsider).get("/deployments/endpoints/delivery-eta/"))
    assert "Only the technical lead and the ML engineers" in page and "Roll back" not in page
    response = client_for(org.outsider).post("/deployments/endpoints/delivery-eta/rollback/", {"reason": "x"})
    assert response.status_code == 302 and any("Only the technical lead" in m for m in flash(response))


def test_forms_change_the_endpoint_and_say_what_happens_next(live, django_capture_on_commit_callbacks):
    org, project, v1, v2 = live
    lead = client_for(org.lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = lead.post(f"/deployments/endpoints/delivery-eta/remove-shadow/", {"model_version": v2.pk, "reason": "enough"})
    assert any("Revision 3 is live" in m for m in flash(response))
    with django_capture_on_commit_callbacks(execute=False):
        response = lead.post("/deployments/endpoints/delivery-eta/canary/", {"model_version": v2.pk, "share": "20",
                                                                             "reason": "try"})
    assert any("Deploy job #" in m for m in flash(response))
    response = lead.post("/deployments/endpoints/delivery-eta/canary/", {"model_version": v2.pk, "share": "90", "reason": "x"})
    assert any("from 1 to 50" in m for m in flash(response))
    response = lead.post("/deployments/endpoints/delivery-eta/canary/", {"model_version": v2.pk, "share": "5", "reason": "x"})
    assert any("is running" in m for m in flash(response))


def test_the_version_panel_and_the_deploy_confirmation(live, django_capture_on_commit_callbacks):
    org, project, v1, v2 = live
    lead = client_for(org.lead)
    panel = text_of(lead.get(f"/deployments/versions/{v1.pk}/", HTTP_HX_REQUEST="true"))
    assert "delivery-eta · primary · 100% of requests" in panel and "Deploy…" in panel
    confirm = text_of(lead.get(f"/deployments/versions/{v2.pk}/deploy/", {"endpoint": "delivery-eta"}))
    assert f"replaces {v1} as the primary" in confirm and "What will change" in confirm
    new = text_of(lead.get(f"/deployments/versions/{v2.pk}/deploy/", {"endpoint": "__new__", "new_name": "eta-b"}))
    assert "A new endpoint eta-b is created" in new
    bad = text_of(lead.get(f"/deployments/versions/{v2.pk}/deploy/", {"endpoint": "__new__", "new_name": "Bad Name"}))
    assert "lowercase letters" in bad
    with django_capture_on_commit_callbacks(execute=False):
        response = lead.post(f"/deployments/versions/{v2.pk}/deploy/", {"endpoint": "eta-b", "confirm": "yes",
                                                                       "reason": "A second endpoint"})
    assert response.status_code == 302 and Endpoint.objects.filter(name="eta-b").exists()
    refused = text_of(client_for(org.outsider).get(f"/deployments/versions/{v1.pk}/"))
    assert "Only the technical lead" in refused


def test_try_it_says_plainly_when_the_serving_tier_does_not_answer(live, settings):
    org, *_ = live
    settings.SERVING_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    response = client_for(org.lead).post("/deployments/endpoints/delivery-eta/try/", {"body": '{"instances": []}'},
                                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "did not answer" in text_of(response)
