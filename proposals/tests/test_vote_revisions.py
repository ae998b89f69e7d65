"""A vote remembers the revision it was cast on; when the proposal is amended after it, the meeting
and proposal pages mark that vote and tell its voter. The meeting page's vote takes a comment."""

from __future__ import annotations

import datetime as dt
import importlib
import re

import pytest
from django.apps import apps

from portal.tests.fixtures import client_for, text_of
from proposals import services
from proposals.models import AgendaItem, Meeting, ProposalRevision, Vote
from proposals.tests.factories import make_org
from proposals.tests.factories import proposal_in_council_review as in_council_review

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def org():
    return make_org(council_size=4)


def amend(proposal, by, **data):
    return services.proposal_update(proposal=proposal, by=by, data=data, note="Sharper target")


def test_a_vote_records_the_revision_it_was_cast_on_and_a_new_vote_moves_it(org):
    proposal = in_council_review(org)
    vote = services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    assert vote.revision == 1
    amend(proposal, org.author, success_metric_target="6")
    again = services.council_vote_cast(proposal=proposal, by=org.council[1], vote="reject", comment="Too ambitious now.")
    assert again.pk == vote.pk and again.revision == 2


def test_the_proposal_page_marks_a_vote_on_an_earlier_revision_and_tells_its_voter(org):
    proposal = in_council_review(org)
    early, late = org.council[1], org.council[2]
    services.council_vote_cast(proposal=proposal, by=early, vote="approve", comment="Good ratio.")
    amend(proposal, org.author, success_metric_target="6")
    services.council_vote_cast(proposal=proposal, by=late, vote="approve")

    response = client_for(org.outsider).get(f"/proposals/{proposal.pk}/")
    page = response.content.decode()
    ballots = re.findall(r"<li><span class=\"badge approve\">.*?</li>", page, re.S)
    [marked] = [b for b in ballots if early.display_name in b]
    assert "cast on revision 1; the proposal changed since" in text_of_html(marked)
    assert f'href="/proposals/{proposal.pk}/compare/?a=1&amp;b=2"' in marked
    [fresh] = [b for b in ballots if late.display_name in b]
    assert "cast on revision" not in fresh
    assert "old-revision-notice" not in page  # the outsider has no vote to look at again

    voter = client_for(early).get(f"/proposals/{proposal.pk}/")
    words = text_of(voter)
    assert "You voted approve on revision 1; the proposal changed since (it is now revision 2). See what changed" in words
    assert "then vote again or leave your vote as it is." in words
    # The vote form keeps their comment, so voting again does not lose it.
    assert re.search(r'<textarea id="vote-comment" name="comment" rows="2">Good ratio.</textarea>', voter.content.decode())
    assert "changed since" not in text_of(client_for(late).get(f"/proposals/{proposal.pk}/")).split("Council vote")[0]


def test_the_live_tally_partial_keeps_the_mark(org):
    proposal = in_council_review(org)
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    amend(proposal, org.author, success_metric_target="6")
    live = client_for(org.outsider).get(f"/proposals/{proposal.pk}/", HTTP_HX_TARGET="vote-tally", **HTMX)
    assert "cast on revision 1; the proposal changed since" in text_of(live)


def test_the_meeting_page_marks_the_vote_tells_the_voter_and_takes_a_comment(org):
    proposal = in_council_review(org)
    meeting = Meeting.objects.get()
    item = AgendaItem.objects.get()
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    amend(proposal, org.author, success_metric_target="6")

    url = f"/council/meetings/{meeting.pk}/"
    member = client_for(org.council[1]).get(url)
    page = member.content.decode()
    ballots = re.search(rf'<ul class="vote-list small" id="ballots-{item.pk}">(.*?)</ul>', page, re.S).group(1)
    assert org.council[1].display_name in ballots and "cast on revision 1; the proposal changed since" in text_of_html(ballots)
    assert "You voted approve on revision 1; the proposal changed since (it is now revision 2)." in text_of(member)
    assert f'href="/proposals/{proposal.pk}/compare/?a=1&amp;b=2"' in page
    comment = re.search(rf'<textarea name="comment" id="vote-comment-{item.pk}"[^>]*hx-preserve', page)
    assert comment, "the meeting page's vote has a comment box that survives the live tally's refresh"

    client_for(org.council[1]).post(f"/proposals/{proposal.pk}/vote/", {
        "vote": "reject", "comment": "The new target is not credible.", "next": f"{url}#item-{item.pk}"})
    vote = Vote.objects.get(voter=org.council[1])
    assert vote.choice == "reject" and vote.comment == "The new target is not credible." and vote.revision == 2
    again = client_for(org.council[1]).get(url)
    assert "changed since" not in text_of(again)
    assert "The new target is not credible." in text_of(again)

    live = client_for(org.outsider).get(url, HTTP_HX_TARGET=f"item-live-{item.pk}", **HTMX)
    assert "The new target is not credible." in text_of(live)


def test_a_closed_vote_marks_ballots_on_a_text_that_changed_before_it_closed_only(org):
    proposal = in_council_review(org)
    services.council_vote_cast(proposal=proposal, by=org.council[0], vote="approve")
    amend(proposal, org.author, success_metric_target="6")
    for member in org.council[1:]:
        services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    proposal.refresh_from_db()
    assert proposal.state == "approved"
    page = client_for(org.outsider).get(f"/proposals/{proposal.pk}/").content.decode()
    marks = re.findall(r'data-old-revision="(\d+)"', page)
    assert marks == ["1"]
    assert "cast on revision 1; the proposal changed before the vote closed" in text_of_html(page)


def test_a_revision_after_the_vote_closed_does_not_mark_its_ballots(org):
    proposal = in_council_review(org)
    for member, vote in zip(org.council, ["request_changes"] * 3 + ["approve"]):
        services.council_vote_cast(proposal=proposal, by=member, vote=vote)
    proposal.refresh_from_db()
    assert proposal.state == "changes_requested"
    amend(proposal, org.author, success_metric_target="6")
    page = client_for(org.outsider).get(f"/proposals/{proposal.pk}/").content.decode()
    assert "data-old-revision" not in page


def test_the_migration_backfills_each_vote_with_the_revision_current_when_it_was_cast(org):
    proposal = in_council_review(org)
    first = services.council_vote_cast(proposal=proposal, by=org.council[0], vote="approve")
    amend(proposal, org.author, success_metric_target="6")
    second = services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    revision_2 = ProposalRevision.objects.get(proposal=proposal, number=2)
    Vote.objects.filter(pk=first.pk).update(revision=None, updated_at=revision_2.created_at - dt.timedelta(seconds=5))
    Vote.objects.filter(pk=second.pk).update(revision=None, updated_at=revision_2.created_at + dt.timedelta(seconds=5))
    migration = importlib.import_module("proposals.migrations.0003_vote_revision")
    migration.backfill(apps, None)
    assert Vote.objects.get(pk=first.pk).revision == 1
    assert Vote.objects.get(pk=second.pk).revision == 2


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ;", ";")
