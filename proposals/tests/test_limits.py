"""Free text in proposals is bounded by TEXT_MAX_CHARS, and a refusal names the limit."""

from __future__ import annotations

import pytest

from portal.tests.fixtures import api_client_for, client_for, text_of
from proposals.models import Proposal
from proposals.tests.factories import make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(settings):
    settings.TEXT_MAX_CHARS = 50
    return make_org()


def test_the_proposal_form_refuses_a_field_past_the_text_limit_and_keeps_what_was_typed(org):
    response = client_for(org.author).post("/proposals/new/", {"title": "Predict delivery times", "kind": "ml_application",
                                                               "business_problem": "late" * 25})
    assert not Proposal.objects.exists()
    assert "This text is 100 characters; it can be at most 50 characters (TEXT_MAX_CHARS)" in text_of(response)
    assert "latelatelate" in response.content.decode()

    client_for(org.author).post("/proposals/new/", {"title": "Predict delivery times", "kind": "ml_application",
                                                    "business_problem": "late " * 10})
    assert Proposal.objects.get().business_problem.strip() == ("late " * 10).strip()


def test_the_api_refuses_a_field_or_a_note_past_the_text_limit_with_400(org):
    api = api_client_for(org.author)
    refused = api.post("/api/v1/proposals/", {"title": "Predict delivery times", "proposed_solution": "x" * 51},
                       format="json")
    assert refused.status_code == 400, refused.content
    assert "at most 50 characters (TEXT_MAX_CHARS)" in str(refused.json())
    assert not Proposal.objects.exists()

    created = api.post("/api/v1/proposals/", {"title": "Predict delivery times"}, format="json")
    assert created.status_code == 201, created.content
    proposal_id = created.json()["id"]
    refused = api.patch(f"/api/v1/proposals/{proposal_id}/", {"title": "ETA", "note": "n" * 51}, format="json")
    assert refused.status_code == 400 and "(TEXT_MAX_CHARS)" in refused.json()["detail"]
    assert refused.json()["field"] == "note"
    assert Proposal.objects.get().title == "Predict delivery times"
