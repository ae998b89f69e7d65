"""A deactivated person reviews and votes no more, nobody waits for them, and what they still hold
is listed on their page and in the API for someone to reassign."""

from __future__ import annotations

import pytest

from portal import people
from portal.errors import Forbidden
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from proposals import permissions, services
from proposals.models import ProposalState
from proposals.tests.factories import make_org, proposal_in_council_review, submitted_proposal
from registry.tests.factories import approved_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="root", is_staff=True)


def test_a_deactivated_pod_lead_cannot_review_and_is_no_longer_waited_for(admin):
    org = make_org()
    proposal = submitted_proposal(org, title="Predict delivery times")

    people.person_deactivate(actor=admin, user=org.pm, reason="Left")

    answer = permissions.can_pod_review(org.pm, proposal)
    assert not answer.ok and "Deactivated" in answer.reason
    with pytest.raises(Forbidden):
        services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")
    assert "pm" not in permissions.required_lead_functions(org.pod)
    duties = {(d.kind, d.title) for d in _duties(org.pm)}
    assert ("pod_review", "Predict delivery times") in duties
    assert ("pod_lead", "Delivery: Product manager lead") in duties

    for lead in (org.em, org.ds_manager, org.analytics_manager):
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.COUNCIL_REVIEW


def test_a_deactivated_council_member_cannot_vote_and_the_open_vote_is_listed(admin):
    org = make_org()
    proposal = proposal_in_council_review(org, title="Rank search results")
    member = org.council[1]

    people.person_deactivate(actor=admin, user=member)

    answer = permissions.can_vote(member)
    assert not answer.ok and "Deactivated" in answer.reason
    with pytest.raises(Forbidden):
        services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    assert member not in permissions.council_member_list()
    kinds = {d.kind: d for d in _duties(member)}
    assert kinds["vote"].title == "Rank search results"
    assert "council_member" in kinds


def test_the_person_page_and_the_api_list_open_duties_to_reassign(admin):
    org, project = approved_project()
    submitted_proposal(org, title="Forecast courier demand")  # org.lead leads it technically
    people.person_deactivate(actor=admin, user=org.lead)

    page = text_of(client_for(org.outsider).get(f"/people/{org.lead.username}/"))
    assert "Deactivated" in page
    assert "Technical lead Forecast courier demand" in page
    assert f"Project owner {project.title}" in page
    assert "Reassign" in page

    body = api_client_for(org.outsider).get(f"/api/v1/people/{org.lead.username}/").json()
    assert body["is_active"] is False
    duties = {(d["kind"], d["title"]) for d in body["open_duties"]}
    assert ("technical_lead", "Forecast courier demand") in duties
    assert ("project_owner", project.title) in duties

    confirm = text_of(client_for(admin).get(f"/people/{org.pm.username}/deactivate/"))
    assert "They still hold" in confirm and "Delivery: Product manager lead" in confirm


def _duties(user):
    from portal.duties import duties_of

    return duties_of(user)


def test_a_ballot_set_aside_by_an_amendment_lists_the_vote_as_owed_again():
    org = make_org()
    proposal = proposal_in_council_review(org)
    member = org.council[1]
    services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    assert ("vote", proposal.title) not in {(d.kind, d.title) for d in _duties(member)}
    services.proposal_update(proposal=proposal, by=org.author, data={"technical_lead": org.engineer})
    assert ("vote", proposal.title) in {(d.kind, d.title) for d in _duties(member)}
