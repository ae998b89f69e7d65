"""The whole governance journey through the API, as the people involved would drive it."""

from __future__ import annotations

import pytest
from django.core import mail
from portal.tests.fixtures import api_client_for as client_for
from proposals.minutes import minutes_send_run
from proposals.models import Meeting
from proposals.tests.factories import make_org
from workers.models import Job
from workers.runtime import JobRun

pytestmark = pytest.mark.django_db


def test_draft_to_minutes(django_capture_on_commit_callbacks):
    org = make_org(council_size=4)
    pm = client_for(org.author)

    created = pm.post("/api/v1/proposals/", {"title": "Predict delivery times", "kind": "ml_application", "pod": "Delivery"}, format="json")
    assert created.status_code == 201, created.content
    pid = created.json()["id"]
    assert created.json()["state"] == "draft"

    incomplete = pm.post(f"/api/v1/proposals/{pid}/submit/")
    assert incomplete.status_code == 400
    body = incomplete.json()
    assert "technical lead" in body["detail"] and "business problem" in body["detail"]
    assert {"technical_lead", "business_problem", "team"} <= set(body["missing_fields"])

    filled = pm.patch(f"/api/v1/proposals/{pid}/", {
        "business_problem": "Customers abandon orders when the promised time is wrong.",
        "proposed_solution": "LightGBM on order, courier and weather features.",
        "success_metric_name": "MAE minutes", "success_metric_baseline": "11.5", "success_metric_target": "7",
        "estimated_yearly_impact": "900000", "impact_confidence": "medium", "build_cost_person_weeks": "12",
        "yearly_maintenance_cost": "40000", "third_party_options": "Vendor X lacks our courier data.",
        "technical_lead": "techlead", "team": ["techlead", "engineer"], "biggest_blocker": "statistical_performance",
        "platform_components": ["feature store"], "watchers": ["outsider"],
    }, format="json")
    assert filled.status_code == 200, filled.content
    assert filled.json()["team"] == ["techlead", "engineer"]
    assert all(c["ok"] for c in filled.json()["principle_checks"]), filled.json()["principle_checks"]

    submitted = pm.post(f"/api/v1/proposals/{pid}/submit/")
    assert submitted.status_code == 200 and submitted.json()["state"] == "pod_review"

    for lead in org.pod_leads:
        r = client_for(lead).post(f"/api/v1/proposals/{pid}/pod-reviews/", {"decision": "approve", "comment": "ok"}, format="json")
        assert r.status_code == 201, r.content
    assert r.json()["state"] == "council_review"

    meeting = Meeting.objects.get()
    agenda = client_for(org.outsider).get(f"/api/v1/meetings/{meeting.pk}/").json()["agenda"]
    assert [item["proposal"] for item in agenda] == [pid]

    votes = ["approve", "approve", "reject", "reject"]
    for member, vote in zip(org.council, votes):
        r = client_for(member).post(f"/api/v1/proposals/{pid}/council-votes/", {"vote": vote, "comment": f"{vote}!"}, format="json")
        assert r.status_code == 201, r.content
    assert r.json()["state"] == "escalated"
    tally = client_for(org.outsider).get(f"/api/v1/meetings/{meeting.pk}/").json()["agenda"][0]
    assert tally["outcome"] == "split" and tally["tally"]["approve"] == 2 and tally["tally"]["reject"] == 2

    not_chair = client_for(org.council[1]).post(f"/api/v1/proposals/{pid}/chair-decision/", {"decision": "approve", "rationale": "x"}, format="json")
    assert not_chair.status_code == 403
    assert "chair" in not_chair.json()["detail"]
    decided = client_for(org.chair).post(f"/api/v1/proposals/{pid}/chair-decision/",
                                         {"decision": "approve", "rationale": "Impact outweighs the risk."}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["state"] == "approved"

    with django_capture_on_commit_callbacks(execute=False):
        published = client_for(org.chair).post(f"/api/v1/meetings/{meeting.pk}/publish-minutes/")
    assert published.status_code == 202, published.content
    job = Job.objects.get(pk=published.json()["job"]["id"])
    job.state = "running"
    job.save()
    result = minutes_send_run(JobRun(job))
    recipients = {m.to[0] for m in mail.outbox}
    expected = {u.email for u in [org.author, org.lead, org.outsider, *org.pod_leads, *org.council]}
    assert recipients == expected
    assert result["sent"] == len(expected)
    assert all(m.alternatives and "Impact outweighs the risk." in m.body for m in mail.outbox)
    # Sending again (a retry) emails nobody twice.
    minutes_send_run(JobRun(job))
    assert len(mail.outbox) == len(expected)
    sent = client_for(org.outsider).get("/api/v1/notifications/").json()
    assert sent["count"] == len(expected)
    again = client_for(org.chair).post(f"/api/v1/meetings/{meeting.pk}/publish-minutes/")
    assert again.status_code == 409
