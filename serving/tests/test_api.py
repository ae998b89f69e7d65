"""The deployments API: contract routes, the gate's answers, and history at an instant."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from serving.models import Endpoint, EndpointRevision
from serving.services import revision_go_live
from serving.tests.factories import publish, project_with_versions

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client




@pytest.fixture
def setup(django_capture_on_commit_callbacks):
    org, project, versions = project_with_versions(3)
    return org, project, versions


def test_deploy_answers_202_with_the_job_and_the_endpoint_reads_back(setup, django_capture_on_commit_callbacks):
    org, project, (v1, v2, v3) = setup
    api = client_for(org.lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/endpoints/delivery-eta/deploy/", {"model_version": v1.pk, "reason": "first"},
                            format="json")
    assert response.status_code == 202, response.json()
    job = response.json()["job"]
    assert job["kind"] == "deploy" and job["state"] == "queued"
    with django_capture_on_commit_callbacks(execute=False):
        publish(response.json())

    detail = api.get("/api/v1/endpoints/delivery-eta/").json()
    assert detail["state"] == "serving" and detail["project"] == project.name
    assert detail["live"]["primary"]["model_version"] == v1.pk and detail["live"]["number"] == 1
    assert detail["serving_url"].endswith("/v1/models/delivery-eta:predict")
    assert [e["name"] for e in api.get("/api/v1/endpoints/").json()["results"]] == ["delivery-eta"]

    with django_capture_on_commit_callbacks(execute=False):
        publish(api.post("/api/v1/endpoints/delivery-eta/canary/", {"model_version": v2.pk, "share": 10,
                                                                    "reason": "try v2"}, format="json").json())
        publish(api.post("/api/v1/endpoints/delivery-eta/shadows/", {"model_version": v3.pk, "reason": "shadow v3"},
                         format="json").json())
    live = api.get("/api/v1/endpoints/delivery-eta/").json()["live"]
    assert (live["canary"]["model_version"], live["canary_share"]) == (v2.pk, 10)
    assert [s["model_version"] for s in live["shadows"]] == [v3.pk]

    response = api.delete(f"/api/v1/endpoints/delivery-eta/shadows/{v3.pk}/")
    assert response.status_code == 200 and response.json()["live"]["shadows"] == []
    response = api.delete("/api/v1/endpoints/delivery-eta/canary/", {"reason": "enough"}, format="json")
    assert response.status_code == 200 and response.json()["live"]["canary"] is None
    response = api.post("/api/v1/endpoints/delivery-eta/undeploy/", {"reason": "retire"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "undeployed"


def test_refusals_carry_the_reason(setup, django_capture_on_commit_callbacks):
    org, project, (v1, v2, _) = setup
    _, _, (foreign, *_) = project_with_versions(1, org=org)
    api = client_for(org.lead)
    with django_capture_on_commit_callbacks(execute=False):
        publish(api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v1.pk, "reason": "first"},
                         format="json").json())
    cases = [
        (api.post("/api/v1/endpoints/eta/deploy/", {"model_version": foreign.pk, "reason": "x"}, format="json"), 400, "belongs to"),
        (api.post("/api/v1/endpoints/eta/rollback/", {"reason": "x"}, format="json"), 409, "no other primary"),
        (api.post("/api/v1/endpoints/nowhere/rollback/", {"reason": "x"}, format="json"), 404, "no endpoint"),
        (api.post("/api/v1/endpoints/eta/canary/", {"model_version": v2.pk, "share": 80, "reason": "x"}, format="json"), 400, ""),
        (api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v2.pk}, format="json"), 400, ""),
        (client_for(org.outsider).post("/api/v1/endpoints/eta/deploy/", {"model_version": v2.pk, "reason": "x"}, format="json"), 403, "Only the technical lead"),
        (api.get("/api/v1/endpoints/nowhere/"), 404, ""),
    ]
    for response, status, text in cases:
        assert response.status_code == status, (response.status_code, response.content)
        assert text in str(response.json())
    with django_capture_on_commit_callbacks(execute=False):
        api.post("/api/v1/endpoints/eta/shadows/", {"model_version": v2.pk, "reason": "shadow"}, format="json")
    busy = api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v2.pk, "reason": "again"}, format="json")
    assert busy.status_code == 409 and "is running" in busy.json()["detail"]


def test_history_at_an_instant_names_who_why_and_the_approval(setup, django_capture_on_commit_callbacks):
    org, project, (v1, v2, _) = setup
    api = client_for(org.lead)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        publish(api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v1.pk, "reason": "first"}, format="json").json())
        between = timezone.now()
        publish(api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v2.pk, "reason": "v2 is better"},
                         format="json").json())
    at = api.get("/api/v1/endpoints/eta/history/", {"at": between.isoformat()}).json()
    assert at["number"] == 1 and at["primary"]["model_version"] == v1.pk and at["reason"] == "first"
    assert at["created_by"] == org.lead.username
    assert at["proposal"]["id"] == project.proposal_id
    assert at["approval"]["kind"] == "council_vote" and at["approval"]["tally"]["approve"] == len(org.council)
    assert "meeting" in at["approval"]
    everything = api.get("/api/v1/endpoints/eta/history/").json()
    assert [r["number"] for r in everything] == [2, 1]
    assert api.get("/api/v1/endpoints/eta/history/", {"at": before.isoformat()}).status_code == 404
    bad = api.get("/api/v1/endpoints/eta/history/", {"at": "yesterday"})
    assert bad.status_code == 400 and "ISO-8601" in bad.json()["detail"]


def test_only_the_chair_suspends_and_reinstates(setup):
    org, project, _ = setup
    refused = client_for(org.lead).post(f"/api/v1/projects/{project.pk}/suspend/", {"rationale": "x"}, format="json")
    assert refused.status_code == 403
    chair = client_for(org.chair)
    assert chair.post(f"/api/v1/projects/{project.pk}/suspend/", {}, format="json").status_code == 400
    body = chair.post(f"/api/v1/projects/{project.pk}/suspend/", {"rationale": "Drift"}, format="json").json()
    assert body["state"] == "suspended" and body["state_rationale"] == "Drift"
    again = chair.post(f"/api/v1/projects/{project.pk}/suspend/", {"rationale": "Drift"}, format="json")
    assert again.status_code == 409
    assert chair.post(f"/api/v1/projects/{project.pk}/reinstate/", {"rationale": "Fixed"}, format="json").json()["state"] == "active"
