"""A material amendment in review (technical lead, team, pod, kind, estimated impact, costs) resets
the reviews of the current pod round or the votes already cast on the open vote: they stay in the
history, no longer count, the history says which fields changed, and the proposal page says why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.errors import InvalidTransition
from portal.models import AuditEvent, InAppNotification
from portal.tests.factories import PodFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from proposals import permissions, selectors, services
from proposals.minutes import minutes_render
from proposals.models import PodReview, ProposalState, Vote
from proposals.tests.factories import make_org
from proposals.tests.factories import proposal_in_council_review as in_council_review
from proposals.tests.factories import submitted_proposal

S = ProposalState
pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return make_org(council_size=4)


def _reset_events(proposal):
    return AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk), verb="proposal.reviews_reset")


def test_changing_the_impact_in_pod_review_starts_a_new_round_and_the_earlier_approvals_no_longer_count(org):
    proposal = submitted_proposal(org)
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")
    services.pod_review_record(proposal=proposal, by=org.em, decision="approve")

    services.proposal_update(proposal=proposal, by=org.author, data={"estimated_yearly_impact": Decimal("1500000")})

    proposal.refresh_from_db()
    assert proposal.state == S.POD_REVIEW and proposal.review_round == 2
    assert PodReview.objects.filter(proposal=proposal, review_round=1).count() == 2  # kept in the history
    assert permissions.can_pod_review(org.pm, proposal).ok  # owed again
    event = _reset_events(proposal).get()
    assert event.data["fields"] == ["estimated_yearly_impact"] and event.data["reviews"] == 2
    page = text_of(client_for(org.outsider).get(f"/proposals/{proposal.pk}/"))
    assert "Reviews reset: revision 2 changed estimated yearly impact, so 2 pod reviews of round 1 set aside" in page
    form = text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/edit/"))
    assert "Changing the technical lead, team, pod, kind, estimated impact or costs starts this round" in form
    assert InAppNotification.objects.filter(recipient=org.pm, dedupe_key=f"proposal:{proposal.pk}:review_owed:round2").exists()

    for lead in (org.pm, org.em, org.ds_manager):
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    proposal.refresh_from_db()
    assert proposal.state == S.POD_REVIEW  # the analytics lead's approval of this round is still missing
    services.pod_review_record(proposal=proposal, by=org.analytics_manager, decision="approve")
    proposal.refresh_from_db()
    assert proposal.state == S.COUNCIL_REVIEW


def test_a_wording_change_in_pod_review_keeps_the_reviews_given(org):
    proposal = submitted_proposal(org)
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")

    services.proposal_update(proposal=proposal, by=org.author, data={"title": "Predict delivery times better"})

    proposal.refresh_from_db()
    assert proposal.review_round == 1
    assert not permissions.can_pod_review(org.pm, proposal).ok
    assert not _reset_events(proposal).exists()
    assert "Reviews reset" not in text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/"))


def test_changing_the_technical_lead_in_council_review_sets_the_votes_cast_aside(org):
    proposal = in_council_review(org)
    first, second = org.council[1], org.council[2]
    services.council_vote_cast(proposal=proposal, by=first, vote="approve")
    services.council_vote_cast(proposal=proposal, by=second, vote="reject", comment="Who builds it?")

    services.proposal_update(proposal=proposal, by=org.author, data={"technical_lead": org.engineer})

    ballots = Vote.objects.filter(item__proposal=proposal)
    assert ballots.count() == 2 and ballots.counting().count() == 0
    assert set(ballots.values_list("superseded_by_revision", flat=True)) == {2}
    event = _reset_events(proposal).get()
    assert event.data["reset"] == "votes" and event.data["fields"] == ["technical_lead"]
    assert event.data["voters"] == sorted([first.username, second.username])
    page = text_of(client_for(org.outsider).get(f"/proposals/{proposal.pk}/"))
    assert "Reviews reset: revision 2 changed technical lead, so 2 votes already cast set aside" in page
    assert "no longer counts: revision 2 changed what it was cast on" in page
    assert InAppNotification.objects.filter(recipient=first, title__startswith="Vote again").exists()
    assert [item.proposal_id for item in selectors.my_queue(user=first)["votes"]] == [proposal.pk]
    api_votes = api_client_for(org.outsider).get(f"/api/v1/proposals/{proposal.pk}/council-votes/").json()
    assert all(v["superseded_by_revision"] == 2 for v in api_votes)
    _, minutes_text, _ = minutes_render(Vote.objects.filter(item__proposal=proposal).first().item.meeting)
    assert "(set aside: revision 2 changed the proposal materially)" in minutes_text

    # The same members vote again; the vote closes only once every member has voted on this text.
    services.council_vote_cast(proposal=proposal, by=first, vote="approve")
    services.council_vote_cast(proposal=proposal, by=second, vote="approve")
    services.council_vote_cast(proposal=proposal, by=org.council[3], vote="approve")
    proposal.refresh_from_db()
    assert proposal.state == S.COUNCIL_REVIEW
    services.council_vote_cast(proposal=proposal, by=org.council[0], vote="approve")
    proposal.refresh_from_db()
    assert proposal.state == S.APPROVED
    assert Vote.objects.filter(item__proposal=proposal).count() == 6


def test_moving_a_proposal_in_pod_review_to_a_pod_with_no_leads_is_refused_and_changes_nothing(org):
    proposal = submitted_proposal(org)
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")

    with pytest.raises(InvalidTransition) as refused:
        services.proposal_update(proposal=proposal, by=org.author, data={"pod": PodFactory(name="Payments")})

    assert "The Payments pod has no leads" in refused.value.message
    proposal.refresh_from_db()
    assert proposal.pod == org.pod and proposal.review_round == 1
