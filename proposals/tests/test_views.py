"""The proposal and council pages, as the people involved see and use them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from portal.models import Notification
from portal.tests.fixtures import client_for, flash, text_of
from proposals import services
from proposals.models import AgendaItem, Meeting, PodReview, Proposal, ProposalRevision, ProposalState, Vote
from proposals.tests.factories import complete_data, make_org
from proposals.tests.factories import proposal_in_council_review as in_council_review
from proposals.tests.factories import submitted_proposal as in_pod_review
from workers.models import Job

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def org():
    return make_org(council_size=4)


def draft(org, **overrides) -> Proposal:
    return services.proposal_create(author=org.author, data=complete_data(org, **overrides))


def escalated(org) -> Proposal:
    proposal = in_council_review(org)
    for member, vote in zip(org.council, ["approve", "approve", "reject", "reject"]):
        services.council_vote_cast(proposal=proposal, by=member, vote=vote)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.ESCALATED
    return proposal


# --- sign-in ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/proposals/", "/proposals/new/", "/proposals/queue/", "/council/",
                                  "/council/meetings/", "/council/emails/"])
def test_anonymous_people_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_cannot_vote(client, org):
    proposal = in_council_review(org)
    response = client.post(reverse("proposals:vote", args=[proposal.pk]), {"vote": "approve"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Vote.objects.exists()


# --- list ---------------------------------------------------------------------------------------

def test_empty_list_says_what_to_do_next(org):
    response = client_for(org.author).get("/proposals/")
    assert response.status_code == 200
    page = text_of(response)
    assert "No proposals yet" in page
    assert 'href="/proposals/new/"' in response.content.decode()
    assert "New proposal" in page


def test_list_shows_proposals_with_their_columns_and_filters(org):
    draft(org, title="Predict delivery times")
    in_pod_review(org)  # a second one, titled the same by complete_data
    draft(org, title="Buy a feature store", kind="build_or_buy")
    c = client_for(org.outsider)

    page = text_of(c.get("/proposals/"))
    assert "3 proposals" in page
    assert "Infrastructure build-or-buy" in page and "Delivery" in page
    assert org.lead.display_name in page and "Pod review" in page

    filtered = text_of(c.get("/proposals/", {"state": "pod_review"}))
    assert "1 proposal matches" in filtered and "Buy a feature store" not in filtered

    searched = text_of(c.get("/proposals/", {"q": "feature store"}))
    assert "Buy a feature store" in searched and "Predict delivery times" not in searched

    by_kind = text_of(c.get("/proposals/", {"kind": "build_or_buy", "pod": "delivery"}))
    assert "Buy a feature store" in by_kind and "1 proposal matches" in by_kind

    none = text_of(c.get("/proposals/", {"pod": "Nowhere"}))
    assert "No proposals match these filters" in none


def test_list_paginates_by_25(org):
    for i in range(27):
        services.proposal_create(author=org.author, data={"title": f"Idea {i:02d}"})
    c = client_for(org.author)
    first = c.get("/proposals/")
    assert first.content.decode().count('href="/proposals/') - first.content.decode().count('href="/proposals/new/') >= 25
    assert "Page 1 of 2" in text_of(first)
    second = text_of(c.get("/proposals/", {"page": 2}))
    assert "Page 2 of 2" in second and "Idea 00" in second and "Idea 26" not in second


def test_list_filtering_with_htmx_returns_only_the_table(org):
    draft(org, title="Predict delivery times")
    response = client_for(org.author).get("/proposals/", {"q": "delivery"}, HTTP_HX_TARGET="proposal-table", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="proposal-table"')
    assert "Predict delivery times" in body


def test_list_links_to_my_queue_with_a_count(org):
    in_pod_review(org)
    page = client_for(org.pm).get("/proposals/").content.decode()
    assert re.search(r'href="/proposals/queue/">My queue <span class="count">1</span>', page)


# --- create and edit ----------------------------------------------------------------------------

def test_new_proposal_form_has_every_content_field(org):
    page = client_for(org.author).get("/proposals/new/").content.decode()
    for name in services.CONTENT_FIELDS:
        assert f'name="{name}"' in page, name
    assert 'name="note"' not in page  # only amendments carry a note


def test_invalid_input_shows_field_errors_and_keeps_what_was_typed(org):
    c = client_for(org.author)
    response = c.post("/proposals/new/", {
        "title": "", "kind": "ml_application", "business_problem": "Orders arrive late.",
        "estimated_yearly_impact": "lots", "build_cost_person_weeks": "-3", "platform_components": "feature store",
    })
    assert response.status_code == 200
    assert not Proposal.objects.exists()
    page = response.content.decode()
    assert re.search(r'id="field-title".*?This field is required', page, re.S)
    assert re.search(r'id="field-estimated_yearly_impact".*?Estimated yearly impact: “lots” is not a number', page, re.S)
    assert re.search(r'id="field-build_cost_person_weeks".*?greater than or equal to 0', page, re.S)
    assert "Orders arrive late." in page
    assert 'value="lots"' in page and 'value="feature store"' in page


def test_saving_a_draft_creates_it_and_says_what_is_still_missing(org):
    c = client_for(org.author)
    response = c.post("/proposals/new/", {
        "title": "Predict delivery times", "kind": "ml_application", "pod": org.pod.pk,
        "technical_lead": org.lead.pk, "team": [org.lead.pk, org.engineer.pk],
        "platform_components": "feature store, model registry,, feature store",
        "estimated_yearly_impact": "900000",
    }, follow=True)
    proposal = Proposal.objects.get()
    assert response.redirect_chain[-1][0] == f"/proposals/{proposal.pk}/"
    assert proposal.author == org.author and proposal.state == "draft"
    assert proposal.platform_components == ["feature store", "model registry"]
    assert {m.user for m in proposal.team_members.all()} == {org.lead, org.engineer}
    assert str(proposal.estimated_yearly_impact) == "900000.00"
    message = " ".join(flash(response))
    assert "Draft saved." in message and "business problem" in message


def test_field_validation_with_htmx_returns_the_field_with_its_error(org):
    c = client_for(org.author)
    response = c.post("/proposals/validate/", {"_field": "success_metric_target", "title": "x",
                                               "success_metric_target": "seven"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.strip().startswith('<div class="field invalid" id="field-success_metric_target"')
    assert "Success metric target: “seven” is not a number" in body and 'value="seven"' in body

    ok = c.post("/proposals/validate/", {"_field": "title", "title": "A fine title"}, **HTMX).content.decode()
    assert 'id="field-title"' in ok and "errorlist" not in ok


def test_editing_a_submitted_proposal_makes_a_revision_with_the_note(org):
    proposal = in_pod_review(org)
    c = client_for(org.author)
    form = c.get(f"/proposals/{proposal.pk}/edit/").content.decode()
    assert 'name="note"' in form and 'value="900000"' in form  # decimals read as typed, not 900000.00
    data = {**{k: v for k, v in _form_values(proposal).items()}, "title": "Predict delivery times better",
            "note": "Sharper title"}
    response = c.post(f"/proposals/{proposal.pk}/edit/", data)
    assert response.status_code == 302
    revision = ProposalRevision.objects.filter(proposal=proposal).order_by("-number").first()
    assert revision.changed_fields == ["title"] and revision.note == "Sharper title"


def _form_values(proposal) -> dict:
    from proposals.forms import ProposalForm

    initial = ProposalForm.initial_for(proposal)
    return {k: ("" if v is None else v) for k, v in initial.items()}


def test_people_who_may_not_edit_are_told_why(org):
    proposal = draft(org)
    response = client_for(org.outsider).get(f"/proposals/{proposal.pk}/edit/")
    assert response.status_code == 403
    assert "Only the author, the technical lead and the pod's leads can edit this proposal." in text_of(response)
    assert 'name="title"' not in response.content.decode()
    post = client_for(org.outsider).post(f"/proposals/{proposal.pk}/edit/", {"title": "Hijacked"})
    assert post.status_code == 403
    proposal.refresh_from_db()
    assert proposal.title == "Predict delivery times"


def test_a_decided_proposal_cannot_be_edited(org):
    proposal = escalated(org)
    services.chair_decide(proposal=proposal, by=org.chair, decision="approve", rationale="Worth it.")
    response = client_for(org.author).get(f"/proposals/{proposal.pk}/edit/")
    assert response.status_code == 409
    assert "This proposal is approved: it can no longer be edited." in text_of(response)


# --- detail -------------------------------------------------------------------------------------

def test_detail_shows_content_checks_people_and_next_step(org):
    proposal = draft(org, third_party_options="", watchers=[org.outsider])
    page = text_of(client_for(org.outsider).get(f"/proposals/{proposal.pk}/"))
    assert "Customers abandon orders" in page and "A gradient-boosted model" in page
    assert "Mean absolute error (minutes): from 11.5 to 7" in page
    assert "900,000" in page
    assert "⚠" in page and "No third-party options considered" in page
    assert "✓" in page and "Builds on the platform: feature store, model registry." in page
    assert f"{org.engineer.display_name} ML engineer" in page  # team with roles
    assert org.outsider.display_name in page  # watcher
    assert "The author or the technical lead fills in what is needed and submits it." in page
    assert "Only the author or the technical lead can submit this proposal." in page
    assert "History" in page and "proposal.created" in page


def test_author_sees_submit_and_submitting_moves_it_to_pod_review(org):
    proposal = draft(org)
    c = client_for(org.author)
    page = c.get(f"/proposals/{proposal.pk}/").content.decode()
    assert "Submit for review" in page and "Withdraw this proposal" in page
    response = c.post(f"/proposals/{proposal.pk}/submit/", follow=True)
    proposal.refresh_from_db()
    assert proposal.state == "pod_review"
    assert flash(response) == [
        f"Submitted: the leads of Delivery review it next: {org.pm.display_name} (product manager), "
        f"{org.em.display_name} (engineering manager), {org.ds_manager.display_name} (data science manager) "
        f"and {org.analytics_manager.display_name} (analytics manager)."]


def test_submitting_an_incomplete_draft_says_what_is_missing(org):
    proposal = services.proposal_create(author=org.author, data={"title": "Half an idea", "pod": org.pod})
    c = client_for(org.author)
    page = text_of(c.get(f"/proposals/{proposal.pk}/"))
    assert "Needed before submitting:" in page and "Business problem" in page
    response = c.post(f"/proposals/{proposal.pk}/submit/", follow=True)
    proposal.refresh_from_db()
    assert proposal.state == "draft"
    assert any(m.startswith("Fill in before submitting: business problem") for m in flash(response))


def test_pod_leads_review_from_the_proposal_page(org):
    proposal = in_pod_review(org)
    page = text_of(client_for(org.pm).get(f"/proposals/{proposal.pk}/"))
    assert "Your review as the pod's product manager" in page
    assert "Waiting" in page and org.em.display_name in page

    outsider_page = text_of(client_for(org.outsider).get(f"/proposals/{proposal.pk}/"))
    assert "Only the required leads of the Delivery pod review this proposal." in outsider_page
    assert "Your review as" not in outsider_page

    refused = client_for(org.pm).post(f"/proposals/{proposal.pk}/pod-review/", {"decision": "reject", "comment": ""}, follow=True)
    assert "Say why in a comment when you request changes or reject." in flash(refused)
    assert not PodReview.objects.exists()

    for lead in org.pod_leads:
        client_for(lead).post(f"/proposals/{proposal.pk}/pod-review/", {"decision": "approve", "comment": "ok"})
    proposal.refresh_from_db()
    assert proposal.state == "council_review"
    again = text_of(client_for(org.pm).get(f"/proposals/{proposal.pk}/"))
    assert "Approve" in again and "as product manager lead" in again


def test_a_non_member_sees_why_they_cannot_vote_and_no_vote_buttons(org):
    proposal = in_council_review(org)
    response = client_for(org.outsider).get(f"/proposals/{proposal.pk}/")
    page = response.content.decode()
    assert "Only ML Council members vote." in text_of(response)
    assert 'name="vote"' not in page and 'id="vote-form"' not in page
    member_page = client_for(org.council[1]).get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'id="vote-form"' in member_page and 'name="vote" value="approve"' in member_page
    assert "Only ML Council members vote." not in member_page


def test_a_non_member_voting_gets_the_reason_and_no_vote_is_recorded(org):
    proposal = in_council_review(org)
    response = client_for(org.outsider).post(f"/proposals/{proposal.pk}/vote/", {"vote": "approve", "comment": "yes"}, follow=True)
    assert response.status_code == 200
    assert "Only ML Council members vote." in flash(response)
    assert not Vote.objects.exists()


def test_a_member_votes_and_sees_the_tally(org):
    proposal = in_council_review(org)
    response = client_for(org.council[1]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "approve", "comment": "Good ratio"}, follow=True)
    assert flash(response) == [f"Your vote on “{proposal.title}” is recorded: approve. 1 of 4 members has voted; "
                               "the vote closes when everyone has voted or the chair closes it."]
    assert Vote.objects.get().voter == org.council[1]
    page = text_of(response)
    assert "1 approve" in page and "Voted 1 of 4 members" in page
    assert "you voted approve" in page


def test_the_live_tally_is_an_htmx_partial_that_stops_when_the_vote_closes(org):
    proposal = in_council_review(org)
    c = client_for(org.outsider)
    page = c.get(f"/proposals/{proposal.pk}/").content.decode()
    assert re.search(r'id="vote-tally" hx-get="/proposals/%d/" hx-trigger="every 2s"' % proposal.pk, page)

    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="reject")
    live = c.get(f"/proposals/{proposal.pk}/", HTTP_HX_TARGET="vote-tally", **HTMX)
    body = live.content.decode()
    assert "<html" not in body and body.strip().startswith('<div id="vote-tally"')
    assert "1 reject" in text_of(live) and "Voted 1 of 4" in text_of(live)

    services.council_vote_cast(proposal=proposal, by=org.council[2], vote="reject")
    services.council_vote_close(proposal=proposal, by=org.chair)  # 2 of 4 present: quorum, and a majority rejects
    proposal.refresh_from_db()
    assert proposal.state == "rejected"
    closed = c.get(f"/proposals/{proposal.pk}/", HTTP_HX_TARGET="vote-tally", **HTMX)
    assert closed["HX-Refresh"] == "true"
    after = c.get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'id="vote-tally"' not in after and 'hx-trigger="every 2s"' not in after


def test_the_chair_decides_an_escalation_and_others_are_told_why_not(org):
    proposal = escalated(org)
    other = text_of(client_for(org.council[1]).get(f"/proposals/{proposal.pk}/"))
    assert "Only the Council chair can decide escalations." in other
    refused = client_for(org.council[1]).post(f"/proposals/{proposal.pk}/chair-decision/",
                                              {"decision": "approve", "rationale": "x"}, follow=True)
    assert "Only the Council chair can decide escalations." in flash(refused)

    chair = client_for(org.chair)
    assert 'id="chair-form"' in chair.get(f"/proposals/{proposal.pk}/").content.decode()
    no_reason = chair.post(f"/proposals/{proposal.pk}/chair-decision/", {"decision": "approve", "rationale": " "}, follow=True)
    assert "The chair's decision needs a rationale: it is recorded in the minutes." in flash(no_reason)
    done = chair.post(f"/proposals/{proposal.pk}/chair-decision/",
                      {"decision": "approve", "rationale": "Impact outweighs the risk."}, follow=True)
    proposal.refresh_from_db()
    assert proposal.state == "approved"
    page = text_of(done)
    assert "Impact outweighs the risk." in page and "Split: escalated to the chair" in page


def test_withdrawing(org):
    proposal = in_pod_review(org)
    refused = client_for(org.lead).post(f"/proposals/{proposal.pk}/withdraw/", follow=True)
    assert "Only the author can withdraw this proposal." in flash(refused)
    client_for(org.author).post(f"/proposals/{proposal.pk}/withdraw/", {"reason": "Vendor found"})
    proposal.refresh_from_db()
    assert proposal.state == "withdrawn"
    page = text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/"))
    assert "Withdrawn by its author." in page and "Withdraw this proposal" not in page


def test_an_action_outside_its_state_is_a_message_not_an_error(org):
    proposal = draft(org)
    response = client_for(org.council[1]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "approve"}, follow=True)
    assert response.status_code == 200
    assert any(m.startswith("Cannot vote on this proposal: it is draft") for m in flash(response))


# --- compare ------------------------------------------------------------------------------------

def test_compare_shows_only_the_changed_fields_with_word_highlights(org):
    proposal = in_pod_review(org)
    services.proposal_update(proposal=proposal, by=org.author, note="After the PM's comments", data={
        "business_problem": "Customers abandon orders when the promised delivery time is late.",
        "team": [org.lead], "estimated_yearly_impact": "950000",
    })
    c = client_for(org.outsider)
    detail = c.get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'action="/proposals/%d/compare/"' % proposal.pk in detail

    response = c.get(f"/proposals/{proposal.pk}/compare/", {"a": 1, "b": 2})
    assert response.status_code == 200
    page = response.content.decode()
    changed = re.findall(r'id="diff-([a-z_]+)"', page)
    assert changed == ["business_problem", "estimated_yearly_impact", "team"]
    assert "<del>wrong.</del>" in page and "<ins>late.</ins>" in page
    assert "<del>engineer (ML engineer)</del>" in page
    assert "Proposed solution" not in text_of(response)

    same = c.get(f"/proposals/{proposal.pk}/compare/", {"a": 2, "b": 2}, follow=True)
    assert "Pick two different revisions to compare." in flash(same)
    assert c.get(f"/proposals/{proposal.pk}/compare/", {"a": 1, "b": 9}).status_code == 404


# --- my queue -----------------------------------------------------------------------------------

def test_my_queue_lists_what_each_person_owes(org):
    assert "You're all caught up" in text_of(client_for(org.outsider).get("/proposals/queue/"))

    proposal = in_pod_review(org)
    review = text_of(client_for(org.pm).get("/proposals/queue/"))
    assert "Reviews I owe" in review and proposal.title in review

    draft(org, title="Unfinished idea")
    mine = text_of(client_for(org.author).get("/proposals/queue/"))
    assert "My drafts and changes to make" in mine and "Unfinished idea" in mine

    for lead in org.pod_leads:
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    votes = client_for(org.council[2]).get("/proposals/queue/").content.decode()
    item = AgendaItem.objects.get(proposal=proposal)
    assert "Votes I owe" in votes and f'/council/meetings/{item.meeting_id}/#item-{item.pk}' in votes
    assert "You're all caught up" in text_of(client_for(org.pm).get("/proposals/queue/"))


def test_the_dashboard_says_what_waits_for_me(org):
    in_pod_review(org)
    page = " ".join(text_of(client_for(org.pm).get("/")).split())
    assert "Waiting for you" in page and "1 pod review to do" in page and "Open my queue" in page


# --- council ------------------------------------------------------------------------------------

def test_council_dashboard(org):
    assert "No proposals yet: the chart appears with the first one." in text_of(client_for(org.outsider).get("/council/"))
    escalated(org)
    decided = in_council_review(org)
    for member in org.council:
        services.council_vote_cast(proposal=decided, by=member, vote="approve")
    draft(org)
    response = client_for(org.outsider).get("/council/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text_of(response)
    assert "/static/vendor/plotly/plotly.min.js" in html and "plotly-graph-div" in html
    assert "Approval rate 100%" in page and "Decided 1" in page
    assert re.search(r"Escalated to the chair 1", page)
    meeting = Meeting.objects.get()
    assert f'/council/meetings/{meeting.pk}/' in html
    assert f"Chair {org.chair.display_name}" in page and "Next chair" in page
    for member in org.council:
        assert member.display_name in page
    assert 'href="/council/meetings/"' in html and 'href="/council/emails/"' in html


def test_council_dashboard_lists_decisions_of_published_meetings(org):
    proposal = in_council_review(org)
    for member in org.council:
        services.council_vote_cast(proposal=proposal, by=member, vote="reject")
    services.minutes_publish(meeting=Meeting.objects.get(), by=org.chair)
    page = text_of(client_for(org.outsider).get("/council/"))
    assert "Decisions of the last meetings" in page
    assert re.search(rf"{re.escape(proposal.title)} Rejected", page)


# --- meetings -----------------------------------------------------------------------------------

def test_meeting_list(org):
    assert "No ML Review meetings yet" in text_of(client_for(org.outsider).get("/council/meetings/"))
    in_council_review(org)
    meeting = Meeting.objects.get()
    page = client_for(org.outsider).get("/council/meetings/").content.decode()
    assert f'href="/council/meetings/{meeting.pk}/"' in page and "Scheduled" in page


def test_meeting_page_shows_the_agenda_tally_and_vote_buttons_for_members(org):
    proposal = in_council_review(org)
    meeting = Meeting.objects.get()
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    member = client_for(org.council[2]).get(f"/council/meetings/{meeting.pk}/")
    page = member.content.decode()
    assert proposal.title in page and "Proposal review" in page
    assert "1 approve" in text_of(member) and "Voted 1 of 4 members" in text_of(member)
    assert 'name="vote" value="request_changes"' in page and 'name="vote" value="abstain"' in page
    assert 'name="notes"' in page
    assert "Publish minutes" not in page and "Move up" not in page  # chair only

    outsider = client_for(org.outsider).get(f"/council/meetings/{meeting.pk}/")
    assert "Only ML Council members vote." in text_of(outsider)
    assert 'name="vote"' not in outsider.content.decode() and 'name="notes"' not in outsider.content.decode()


def test_voting_from_the_meeting_page_comes_back_to_the_item(org):
    proposal = in_council_review(org)
    meeting = Meeting.objects.get()
    item = AgendaItem.objects.get()
    url = f"/council/meetings/{meeting.pk}/"
    response = client_for(org.council[1]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "reject", "next": f"{url}#item-{item.pk}"})
    assert response.status_code == 302 and response["Location"] == f"{url}#item-{item.pk}"
    assert Vote.objects.get().choice == "reject"
    elsewhere = client_for(org.council[2]).post(f"/proposals/{proposal.pk}/vote/", {"vote": "reject", "next": "https://evil.example/"})
    assert elsewhere["Location"] == f"/proposals/{proposal.pk}/"


def test_meeting_item_tally_polls_as_an_htmx_partial(org):
    proposal = in_council_review(org)
    meeting = Meeting.objects.get()
    item = AgendaItem.objects.get()
    c = client_for(org.outsider)
    page = c.get(f"/council/meetings/{meeting.pk}/").content.decode()
    assert re.search(rf'id="item-live-{item.pk}" hx-get="/council/meetings/{meeting.pk}/" hx-trigger="every 2s"', page)
    services.council_vote_cast(proposal=proposal, by=org.council[3], vote="abstain")
    live = c.get(f"/council/meetings/{meeting.pk}/", HTTP_HX_TARGET=f"item-live-{item.pk}", **HTMX)
    body = live.content.decode()
    assert "<html" not in body and body.strip().startswith(f'<div class="item-live" id="item-live-{item.pk}"')
    assert "1 abstain" in text_of(live)
    for member in org.council[:3]:
        services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    done = c.get(f"/council/meetings/{meeting.pk}/", HTTP_HX_TARGET=f"item-live-{item.pk}", **HTMX).content.decode()
    assert "hx-trigger" not in done and "Approved" in done


def test_chair_runs_the_meeting(org):
    proposal = in_council_review(org)
    other = draft(org, title="Buy a labelling tool")
    meeting = Meeting.objects.get()
    chair = client_for(org.chair)
    page = chair.get(f"/council/meetings/{meeting.pk}/").content.decode()
    assert "Publish minutes" in page and "Add an item" in page and "Save attendance" in page

    chair.post(f"/council/meetings/{meeting.pk}/items/", {"title": "", "proposal": other.pk, "kind": "other"})
    chair.post(f"/council/meetings/{meeting.pk}/items/", {"title": "Platform roadmap", "kind": "follow_up"})
    titles = list(meeting.items.order_by("position").values_list("title", flat=True))
    assert titles == [proposal.title, "Buy a labelling tool", "Platform roadmap"]

    roadmap = meeting.items.get(title="Platform roadmap")
    chair.post(f"/council/meetings/{meeting.pk}/items/{roadmap.pk}/move/", {"direction": "up"})
    titles = list(meeting.items.order_by("position").values_list("title", flat=True))
    assert titles == [proposal.title, "Platform roadmap", "Buy a labelling tool"]
    assert text_of(chair.get(f"/council/meetings/{meeting.pk}/")).index("Platform roadmap") < \
        text_of(chair.get(f"/council/meetings/{meeting.pk}/")).index("Buy a labelling tool")

    chair.post(f"/council/meetings/{meeting.pk}/attendance/", {"present": [org.council[1].pk, org.council[2].pk]})
    assert set(meeting.attendees.all()) == {org.council[1], org.council[2]}

    item = meeting.items.get(proposal=proposal)
    chair.post(f"/council/meetings/{meeting.pk}/notes/", {"item": item.pk, "notes": "Ask about the courier data."})
    chair.post(f"/council/meetings/{meeting.pk}/notes/", {"notes": "Quorum reached at 15:05."})
    item.refresh_from_db()
    meeting.refresh_from_db()
    assert item.notes == "Ask about the courier data." and meeting.notes == "Quorum reached at 15:05."

    response = chair.post(f"/council/meetings/{meeting.pk}/publish/")
    job = Job.objects.get(kind="minutes_send")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    meeting.refresh_from_db()
    assert meeting.is_published
    after = text_of(chair.get(f"/council/meetings/{meeting.pk}/"))
    assert re.search(r"Minutes published on .* by " + re.escape(org.chair.display_name), after)
    assert "Publish minutes" not in after and "0 emails" in after

    again = chair.post(f"/council/meetings/{meeting.pk}/publish/", follow=True)
    assert "The minutes of this meeting are already published." in flash(again)


def test_only_the_chair_changes_the_agenda_and_only_members_take_notes(org):
    in_council_review(org)
    meeting = Meeting.objects.get()
    item = meeting.items.get()
    member = client_for(org.council[1])
    added = member.post(f"/council/meetings/{meeting.pk}/items/", {"title": "Sneaky", "kind": "other"}, follow=True)
    assert "Only the Council chair can add agenda items." in flash(added)
    moved = member.post(f"/council/meetings/{meeting.pk}/items/{item.pk}/move/", {"direction": "down"}, follow=True)
    assert "Only the Council chair can reorder the agenda." in flash(moved)
    published = member.post(f"/council/meetings/{meeting.pk}/publish/", follow=True)
    assert "Only the Council chair can publish the minutes." in flash(published)
    assert not meeting.items.filter(title="Sneaky").exists()

    notes = client_for(org.outsider).post(f"/council/meetings/{meeting.pk}/notes/", {"item": item.pk, "notes": "hi"}, follow=True)
    assert "Only ML Council members take notes at ML Review." in flash(notes)
    item.refresh_from_db()
    assert item.notes == ""


# --- emails -------------------------------------------------------------------------------------

def test_sent_emails_list(org):
    assert "No emails yet" in text_of(client_for(org.outsider).get("/council/emails/"))
    in_council_review(org)
    meeting = Meeting.objects.get()
    for i in range(30):
        Notification.objects.create(email=f"p{i}@example.com", subject=f"Minutes: {meeting}", body_text="…",
                                    dedupe_key=f"k{i}", object_type="meeting", object_id=str(meeting.pk),
                                    state="sent" if i % 2 else "pending", recipient=org.outsider if i == 0 else None)
    page = client_for(org.outsider).get("/council/emails/")
    text = text_of(page)
    assert "30 emails" in text and "Page 1 of 2" in text
    assert f"Minutes: {meeting}" in text and "Sent" in text and "Pending" in text
    assert f'href="/council/meetings/{meeting.pk}/"' in page.content.decode()
    filtered = text_of(client_for(org.outsider).get("/council/emails/", {"meeting": meeting.pk, "page": 2}))
    assert "Page 2 of 2" in filtered and "The minutes of" in filtered
    other = Meeting.objects.create(scheduled_for=meeting.scheduled_for + dt.timedelta(days=7))
    assert "No emails for this meeting yet" in text_of(client_for(org.outsider).get("/council/emails/", {"meeting": other.pk}))
    assert client_for(org.outsider).get("/council/emails/", {"meeting": other.pk + 1}).status_code == 404


# --- navigation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path,section", [("/proposals/", "Proposals"), ("/proposals/queue/", "Proposals"),
                                          ("/council/", "Council"), ("/council/meetings/", "Council"),
                                          ("/council/emails/", "Council")])
def test_the_sidebar_highlights_the_section(org, path, section):
    page = client_for(org.outsider).get(path).content.decode()
    assert re.search(rf'class="active" aria-current="page">{section}</a>', page)
