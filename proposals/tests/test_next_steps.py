"""After each action that changes a proposal's state, the page says what happens next, in words
worked out from the new state, beside the buttons that were pressed."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django.utils.dateformat import format as date_format

from portal.tests.fixtures import client_for, flash
from proposals import services
from proposals.models import AgendaItem, Meeting, ProposalState
from proposals.tests.factories import make_org
from proposals.tests.factories import proposal_in_council_review as in_council_review
from proposals.tests.factories import submitted_proposal as in_pod_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return make_org(council_size=4)


def _agenda_day(proposal) -> str:
    item = AgendaItem.objects.get(proposal=proposal, vote_open=True)
    return date_format(timezone.localtime(item.meeting.scheduled_for), "j F")


def _notice(response) -> str:
    """The notice shown inside the proposal page's actions card."""
    match = re.search(r'<section class="card next-step" id="next-step".*?<ul class="messages inline-notice" id="action-notice"[^>]*>(.*?)</ul>',
                      response.content.decode(), re.S)
    assert match, "no notice beside the actions"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_a_pod_approval_names_who_is_still_to_review(org):
    proposal = in_pod_review(org)
    response = client_for(org.pm).post(f"/proposals/{proposal.pk}/pod-review/", {"decision": "approve"}, follow=True)
    assert flash(response) == [
        f"Your review is recorded: approve. Still to review: {org.em.display_name} (engineering manager), "
        f"{org.ds_manager.display_name} (data science manager) and {org.analytics_manager.display_name} (analytics manager)."]
    assert _notice(response).startswith("Your review is recorded: approve. Still to review:")
    # Shown beside the actions, so not again at the top of the page.
    assert response.content.decode().count("Your review is recorded") == 1


def test_the_last_pod_approval_says_it_moves_to_the_council_and_which_agenda(org):
    proposal = in_pod_review(org)
    for lead in org.pod_leads[:-1]:
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    response = client_for(org.analytics_manager).post(f"/proposals/{proposal.pk}/pod-review/", {"decision": "approve"},
                                                      follow=True)
    assert flash(response) == [f"Your review is recorded: approve. Last approval: it moves to the ML Council and is on "
                               f"the {_agenda_day(proposal)} agenda."]


def test_changes_requested_and_rejection_say_what_follows(org):
    proposal = in_pod_review(org)
    changes = client_for(org.pm).post(f"/proposals/{proposal.pk}/pod-review/",
                                      {"decision": "request_changes", "comment": "Say more."}, follow=True)
    assert flash(changes) == ["Your review is recorded: request changes. Changes requested: the author amends it and "
                              "resubmits it to the pod's leads."]
    other = in_pod_review(org, title="Another one")
    rejected = client_for(org.em).post(f"/proposals/{other.pk}/pod-review/", {"decision": "reject", "comment": "No."},
                                       follow=True)
    assert flash(rejected) == ["Your review is recorded: reject. Rejected: nothing more happens to it; your comment is "
                               "kept as the reason."]


def test_a_vote_says_how_many_have_voted_and_the_last_one_says_the_outcome(org):
    proposal = in_council_review(org)
    first = client_for(org.council[0]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "approve"}, follow=True)
    assert flash(first)[0].endswith("recorded: approve. 1 of 4 members has voted; the vote closes when everyone has "
                                    "voted or the chair closes it.")
    for member in org.council[1:3]:
        services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    last = client_for(org.council[3]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "approve"}, follow=True)
    assert flash(last)[0].endswith(f"recorded: approve. That was the last vote. Approved. Its ML project is created "
                                   f"next, owned by {org.lead.display_name}.")


def test_closing_a_split_vote_names_the_chair_who_decides(org):
    proposal = in_council_review(org)
    for member, vote in zip(org.council, ["approve", "reject"]):
        services.council_vote_cast(proposal=proposal, by=member, vote=vote)
    response = client_for(org.chair).post(f"/proposals/{proposal.pk}/close-vote/", follow=True)
    assert flash(response) == [f"Vote closed. Split: escalated to the chair. The vote was split: the chair, "
                               f"{org.chair.display_name}, decides, with a rationale that goes into the minutes."]
    assert _notice(response).startswith("Vote closed. Split")


def test_closing_without_quorum_names_the_meeting_it_is_carried_to(org, settings):
    settings.COUNCIL_QUORUM = 0.75
    proposal = in_council_review(org)
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    response = client_for(org.chair).post(f"/proposals/{proposal.pk}/close-vote/", follow=True)
    assert flash(response) == [f"Vote closed. No quorum: it is carried to the {_agenda_day(proposal)} ML Review."]


def test_the_chair_decision_and_a_withdrawal_say_what_follows(org):
    proposal = in_council_review(org)
    for member, vote in zip(org.council, ["approve", "approve", "reject", "reject"]):
        services.council_vote_cast(proposal=proposal, by=member, vote=vote)
    response = client_for(org.chair).post(f"/proposals/{proposal.pk}/chair-decision/",
                                          {"decision": "reject", "rationale": "Too risky."}, follow=True)
    assert flash(response) == ["Decided: rejected. The rationale goes into the minutes. Nothing more happens to it; "
                               "a new proposal can take up what was learnt."]
    other = in_pod_review(org, title="Another one")
    withdrawn = client_for(org.author).post(f"/proposals/{other.pk}/withdraw/", follow=True)
    assert flash(withdrawn) == ["Withdrawn. Nothing more happens to it; it leaves every reviewer's queue."]


def test_a_submission_straight_to_the_council_names_its_agenda(org):
    proposal = in_council_review(org)
    services.council_vote_cast(proposal=proposal, by=org.council[0], vote="request_changes")
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="request_changes")
    services.council_vote_cast(proposal=proposal, by=org.council[2], vote="request_changes")
    services.council_vote_close(proposal=proposal, by=org.chair)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.CHANGES_REQUESTED
    response = client_for(org.author).post(f"/proposals/{proposal.pk}/submit/", follow=True)
    assert flash(response) == [f"Submitted: it moves to the ML Council and is on the {_agenda_day(proposal)} agenda."]


def test_a_refusal_also_shows_beside_the_actions(org):
    proposal = in_pod_review(org)
    response = client_for(org.pm).post(f"/proposals/{proposal.pk}/pod-review/", {"decision": "reject"}, follow=True)
    assert _notice(response) == "Say why in a comment when you request changes or reject."


def test_a_vote_from_the_meeting_page_is_answered_beside_its_agenda_item(org):
    proposal = in_council_review(org)
    meeting = Meeting.objects.get()
    item = AgendaItem.objects.get()
    url = f"/council/meetings/{meeting.pk}/"
    response = client_for(org.council[1]).post(f"/proposals/{proposal.pk}/vote/",
                                               {"vote": "approve", "next": f"{url}#item-{item.pk}"}, follow=True)
    page = response.content.decode()
    notice = re.search(rf'<li class="agenda-item" id="item-{item.pk}">.*?<ul class="messages inline-notice" '
                       rf'id="notice-item-{item.pk}"[^>]*>(.*?)</ul>', page, re.S)
    assert notice and "1 of 4 members has voted" in notice.group(1)
    assert page.count("1 of 4 members has voted") == 1  # not repeated at the top
