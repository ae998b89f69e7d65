"""Governance rules: transitions, permissions, quorum and majority, rotation, concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.models import AuditEvent, ChairTerm
from proposals import services
from proposals.models import PROPOSAL_TRANSITIONS, AgendaItem, ItemKind, Meeting, PodReview, ProposalState, Vote, VoteOutcome
from proposals.tests.factories import complete_data, make_org
from proposals.tests.factories import proposal_in_council_review as in_council
from proposals.tests.factories import submitted_proposal as submitted

S = ProposalState
pytestmark = pytest.mark.django_db


def vote_all(org, proposal, votes):
    for member, vote in zip(org.council, votes):
        services.council_vote_cast(proposal=proposal, by=member, vote=vote)
    proposal.refresh_from_db()
    return proposal


# --- submission and pod review ----------------------------------------------------------

def test_submit_names_every_missing_field_and_changes_nothing():
    org = make_org()
    proposal = services.proposal_create(author=org.author, data={"title": "Half an idea", "pod": org.pod})
    with pytest.raises(DomainError) as err:
        services.proposal_submit(proposal=proposal, by=org.author)
    assert err.value.status == 400
    missing = set(err.value.details["missing_fields"])
    assert {"business_problem", "proposed_solution", "technical_lead", "team", "estimated_yearly_impact"} <= missing
    assert "technical lead" in err.value.message
    proposal.refresh_from_db()
    assert proposal.state == S.DRAFT and proposal.revisions.count() == 0


def test_hiring_proposals_need_fewer_fields():
    org = make_org()
    proposal = services.proposal_create(author=org.author, data={
        "title": "Senior ML engineer", "kind": "hiring", "pod": org.pod, "business_problem": "No one to run serving.",
        "proposed_solution": "Job description: ...", "technical_lead": org.engineer,
    })
    assert services.proposal_submit(proposal=proposal, by=org.author).state == S.POD_REVIEW


def test_all_pod_leads_approving_moves_it_to_council_review_and_the_next_agenda():
    org = make_org()
    proposal = submitted(org)
    for lead in org.pod_leads[:-1]:
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
        proposal.refresh_from_db()
        assert proposal.state == S.POD_REVIEW
    services.pod_review_record(proposal=proposal, by=org.pod_leads[-1], decision="approve")
    proposal.refresh_from_db()
    assert proposal.state == S.COUNCIL_REVIEW
    item = AgendaItem.objects.get(proposal=proposal)
    assert item.vote_open and item.meeting.scheduled_for > timezone.now()
    assert item.meeting.scheduled_for.weekday() == 2


def test_a_pod_lead_requesting_changes_sends_it_back_and_resubmission_starts_a_new_round():
    org = make_org()
    proposal = submitted(org)
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")
    with pytest.raises(DomainError, match="Say why"):
        services.pod_review_record(proposal=proposal, by=org.em, decision="request_changes", comment=" ")
    services.pod_review_record(proposal=proposal, by=org.em, decision="request_changes", comment="Cost is unclear")
    proposal.refresh_from_db()
    assert proposal.state == S.CHANGES_REQUESTED
    services.proposal_update(proposal=proposal, by=org.author, data={"yearly_maintenance_cost": "50000"}, note="costed")
    proposal = services.proposal_submit(proposal=proposal, by=org.author)
    assert proposal.state == S.POD_REVIEW and proposal.review_round == 2
    # The earlier round's approval does not carry over.
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")
    assert PodReview.objects.filter(proposal=proposal, review_round=2).count() == 1


def test_a_pod_lead_rejecting_ends_the_proposal():
    org = make_org()
    proposal = submitted(org)
    services.pod_review_record(proposal=proposal, by=org.ds_manager, decision="reject", comment="Not a priority")
    proposal.refresh_from_db()
    assert proposal.state == S.REJECTED and proposal.decided_at


def test_reviewing_twice_in_a_round_is_refused():
    org = make_org()
    proposal = submitted(org)
    services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")
    with pytest.raises(InvalidTransition, match="already reviewed"):
        services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")


def test_amendments_after_submission_are_revisions_with_their_author():
    org = make_org()
    proposal = submitted(org)
    services.proposal_update(proposal=proposal, by=org.pm, data={"title": "Predict delivery times (v2)"}, note="clearer")
    revisions = list(proposal.revisions.all())
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[1].author == org.pm and revisions[1].changed_fields == ["title"]
    assert revisions[0].snapshot["title"] == "Predict delivery times"
    assert revisions[1].snapshot["title"] == "Predict delivery times (v2)"


# --- council ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "votes, outcome, state",
    [
        (["approve", "approve", "approve", "reject"], VoteOutcome.APPROVED, S.APPROVED),
        (["reject", "reject", "reject", "approve"], VoteOutcome.REJECTED, S.REJECTED),
        (["request_changes", "request_changes", "request_changes", "abstain"], VoteOutcome.CHANGES_REQUESTED, S.CHANGES_REQUESTED),
        (["approve", "approve", "reject", "reject"], VoteOutcome.SPLIT, S.ESCALATED),
        (["approve", "approve", "abstain", "abstain"], VoteOutcome.SPLIT, S.ESCALATED),
    ],
)
def test_the_tally_decides_once_every_member_has_voted(votes, outcome, state):
    org = make_org(council_size=4)
    proposal = vote_all(org, in_council(org), votes)
    assert proposal.state == state
    item = AgendaItem.objects.get(proposal=proposal, kind=ItemKind.REVIEW)
    assert not item.vote_open and item.outcome == outcome
    assert item.tally["voted"] == 4


def test_with_votes_cast_majority_abstentions_do_not_count(settings):
    settings.COUNCIL_MAJORITY = "votes_cast"
    org = make_org(council_size=4)
    proposal = vote_all(org, in_council(org), ["approve", "approve", "abstain", "abstain"])
    assert proposal.state == S.APPROVED


def test_changes_requested_by_the_council_go_back_to_the_council_on_resubmission():
    org = make_org(council_size=3)
    proposal = vote_all(org, in_council(org), ["request_changes", "request_changes", "approve"])
    assert proposal.state == S.CHANGES_REQUESTED
    proposal = services.proposal_submit(proposal=proposal, by=org.author)
    assert proposal.state == S.COUNCIL_REVIEW
    assert AgendaItem.objects.filter(proposal=proposal, vote_open=True).count() == 1


def test_the_chair_closes_a_vote_early_and_a_member_can_change_a_vote_until_then():
    org = make_org(council_size=5)
    proposal = in_council(org)
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="reject")
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve", comment="convinced")
    services.council_vote_cast(proposal=proposal, by=org.council[2], vote="approve")
    services.council_vote_cast(proposal=proposal, by=org.council[3], vote="approve")
    assert Vote.objects.filter(item__proposal=proposal).count() == 3
    with pytest.raises(Forbidden, match="chair"):
        services.council_vote_close(proposal=proposal, by=org.council[1])
    item = services.council_vote_close(proposal=proposal, by=org.chair)
    proposal.refresh_from_db()
    # 3 present (the voters), 3 approve: a majority of those present, and 3 of 5 is a quorum.
    assert item.outcome == VoteOutcome.APPROVED and proposal.state == S.APPROVED


def test_without_quorum_the_item_is_carried_to_the_next_meeting():
    org = make_org(council_size=5)
    proposal = in_council(org)
    services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    item = services.council_vote_close(proposal=proposal, by=org.chair)
    proposal.refresh_from_db()
    assert item.outcome == VoteOutcome.NO_QUORUM
    assert proposal.state == S.COUNCIL_REVIEW
    follow_up = AgendaItem.objects.get(proposal=proposal, vote_open=True)
    assert follow_up.kind == ItemKind.FOLLOW_UP and follow_up.meeting.scheduled_for > item.meeting.scheduled_for


def test_only_the_chair_decides_an_escalation_and_needs_a_rationale():
    org = make_org(council_size=4)
    proposal = vote_all(org, in_council(org), ["approve", "approve", "reject", "reject"])
    with pytest.raises(Forbidden):
        services.chair_decide(proposal=proposal, by=org.council[2], decision="approve", rationale="yes")
    with pytest.raises(DomainError, match="rationale"):
        services.chair_decide(proposal=proposal, by=org.chair, decision="approve", rationale="  ")
    services.chair_decide(proposal=proposal, by=org.chair, decision="reject", rationale="Too risky this quarter")
    proposal.refresh_from_db()
    assert proposal.state == S.REJECTED and proposal.chair_decision.rationale == "Too risky this quarter"
    assert AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk), verb="chair.decided").exists()


# --- illegal transitions and permissions --------------------------------------------------

def _attempts(org, proposal):
    return {
        "edit": lambda: services.proposal_update(proposal=proposal, by=org.author, data={"title": "x"}),
        "submit": lambda: services.proposal_submit(proposal=proposal, by=org.author),
        "withdraw": lambda: services.proposal_withdraw(proposal=proposal, by=org.author),
        "pod_review": lambda: services.pod_review_record(proposal=proposal, by=org.pm, decision="approve"),
        "council_vote": lambda: services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve"),
        "close_vote": lambda: services.council_vote_close(proposal=proposal, by=org.chair),
        "chair_decision": lambda: services.chair_decide(proposal=proposal, by=org.chair, decision="approve", rationale="r"),
    }


def _proposal_in(org, state):
    if state == S.DRAFT:
        return services.proposal_create(author=org.author, data=complete_data(org))
    if state == S.POD_REVIEW:
        return submitted(org)
    if state == S.COUNCIL_REVIEW:
        return in_council(org)
    if state == S.CHANGES_REQUESTED:
        p = submitted(org)
        services.pod_review_record(proposal=p, by=org.pm, decision="request_changes", comment="more")
        return p
    if state == S.ESCALATED:
        return vote_all(org, in_council(org), ["approve", "approve", "reject", "reject"])
    if state == S.APPROVED:
        return vote_all(org, in_council(org), ["approve"] * 4)
    if state == S.REJECTED:
        return vote_all(org, in_council(org), ["reject"] * 4)
    if state == S.WITHDRAWN:
        return services.proposal_withdraw(proposal=submitted(org), by=org.author)
    raise AssertionError(state)


@pytest.mark.parametrize("state", list(S.values))
def test_every_action_outside_its_states_is_refused_with_the_state_and_allowed_actions(state):
    org = make_org(council_size=4)
    proposal = _proposal_in(org, state)
    proposal.refresh_from_db()
    assert proposal.state == state
    for action, attempt in _attempts(org, proposal).items():
        if action in PROPOSAL_TRANSITIONS.allowed(state):
            continue
        before = AuditEvent.objects.count()
        with pytest.raises(InvalidTransition) as err:
            attempt()
        assert err.value.status == 409
        assert err.value.details["state"] == state
        assert err.value.details["allowed_actions"] == PROPOSAL_TRANSITIONS.allowed(state)
        assert state in err.value.message
        proposal.refresh_from_db()
        assert proposal.state == state and AuditEvent.objects.count() == before


def test_permission_matrix():
    org = make_org(council_size=4)
    draft = services.proposal_create(author=org.author, data=complete_data(org))
    # Editing: author, technical lead and pod leads yes; anyone else no.
    for person in (org.author, org.lead, org.pm):
        services.proposal_update(proposal=draft, by=person, data={"title": f"by {person.username}"})
    for person in (org.outsider, org.council[1], org.engineer):
        with pytest.raises(Forbidden, match="author, the technical lead and the pod's leads"):
            services.proposal_update(proposal=draft, by=person, data={"title": "nope"})
    # Submitting: author or technical lead.
    with pytest.raises(Forbidden):
        services.proposal_submit(proposal=draft, by=org.pm)
    services.proposal_submit(proposal=draft, by=org.lead)
    # Pod review: only the pod's required leads.
    for person in (org.author, org.outsider, org.council[1]):
        with pytest.raises(Forbidden, match="required leads"):
            services.pod_review_record(proposal=draft, by=person, decision="approve")
    for lead in org.pod_leads:
        services.pod_review_record(proposal=draft, by=lead, decision="approve")
    # Voting: only council members.
    for person in (org.author, org.pm, org.outsider):
        with pytest.raises(Forbidden, match="Council members"):
            services.council_vote_cast(proposal=draft, by=person, vote="approve")
    # Withdrawing: only the author.
    with pytest.raises(Forbidden, match="author"):
        services.proposal_withdraw(proposal=draft, by=org.lead)
    # Minutes and agenda: only the chair.
    meeting = Meeting.objects.get()
    for attempt in (
        lambda: services.minutes_publish(meeting=meeting, by=org.council[1]),
        lambda: services.agenda_item_add(meeting=meeting, by=org.council[1], title="AOB"),
        lambda: services.agenda_item_move(item=meeting.items.first(), by=org.author, direction="up"),
    ):
        with pytest.raises(Forbidden, match="chair"):
            attempt()


# --- agenda and chair rotation --------------------------------------------------------------

def test_the_chair_reorders_and_adds_agenda_items():
    org = make_org()
    in_council(org, title="First"), in_council(org, title="Second")
    meeting = Meeting.objects.get()
    extra = services.agenda_item_add(meeting=meeting, by=org.chair, title="Hiring plan for Q3")
    assert [i.title for i in meeting.items.order_by("position")] == ["First", "Second", "Hiring plan for Q3"]
    services.agenda_item_move(item=extra, by=org.chair, direction="up")
    services.agenda_item_move(item=extra, by=org.chair, direction="up")
    assert [i.title for i in meeting.items.order_by("position")] == ["Hiring plan for Q3", "First", "Second"]


def _published_meeting(org, django_capture_on_commit_callbacks):
    in_council(org)
    meeting = Meeting.objects.get()
    with django_capture_on_commit_callbacks():
        services.minutes_publish(meeting=meeting, by=org.chair)
    meeting.refresh_from_db()
    return meeting


def test_notes_on_an_item_and_on_the_meeting_are_audited_with_what_changed():
    org = make_org()
    in_council(org)
    meeting = Meeting.objects.get()
    item = meeting.items.get()
    services.meeting_notes_update(meeting=meeting, by=org.council[1], notes="Ask about courier data.", item=item)
    services.meeting_notes_update(meeting=meeting, by=org.chair, notes="Quorum at 15:05.")
    events = list(AuditEvent.objects.filter(verb="meeting.notes_updated", object_id=str(meeting.pk)).order_by("id"))
    assert [(e.actor, e.data["item"], e.data["before"], e.data["notes"]) for e in events] == [
        (org.council[1], item.pk, "", "Ask about courier data."),
        (org.chair, None, "", "Quorum at 15:05."),
    ]
    assert events[0].data["title"] == item.title
    # Saving the same notes again changes nothing, so it records nothing.
    services.meeting_notes_update(meeting=meeting, by=org.chair, notes="Quorum at 15:05.")
    assert AuditEvent.objects.filter(verb="meeting.notes_updated").count() == 2


def test_notes_are_refused_once_the_minutes_are_published(django_capture_on_commit_callbacks):
    org = make_org()
    meeting = _published_meeting(org, django_capture_on_commit_callbacks)
    item = meeting.items.get()
    before = AuditEvent.objects.count()
    for attempt in (
        lambda: services.meeting_notes_update(meeting=meeting, by=org.chair, notes="Late addition"),
        lambda: services.meeting_notes_update(meeting=meeting, by=org.council[1], notes="Late", item=item),
    ):
        with pytest.raises(InvalidTransition, match="minutes are published") as err:
            attempt()
        assert err.value.status == 409 and err.value.details["state"] == meeting.state
    meeting.refresh_from_db()
    item.refresh_from_db()
    assert meeting.notes == "" and "Late" not in item.notes
    assert AuditEvent.objects.count() == before


def test_attendance_is_audited_with_who_came_and_went():
    org = make_org()
    in_council(org)
    meeting = Meeting.objects.get()
    services.meeting_attendance_set(meeting=meeting, by=org.chair, present=[org.council[1], org.council[2]])
    services.meeting_attendance_set(meeting=meeting, by=org.chair, present=[org.council[2], org.council[3]])
    event = AuditEvent.objects.filter(verb="meeting.attendance_recorded").last()
    assert event.actor == org.chair
    assert event.data == {"present": sorted([org.council[2].username, org.council[3].username]),
                          "added": [org.council[3].username], "removed": [org.council[1].username]}


def test_attendance_is_refused_once_the_minutes_are_published(django_capture_on_commit_callbacks):
    org = make_org()
    meeting = _published_meeting(org, django_capture_on_commit_callbacks)
    present = set(meeting.attendees.all())
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition, match="attendance can no longer change") as err:
        services.meeting_attendance_set(meeting=meeting, by=org.chair, present=[org.council[1]])
    assert err.value.status == 409 and err.value.details == {"state": meeting.state, "allowed_actions": []}
    assert set(meeting.attendees.all()) == present and AuditEvent.objects.count() == before


def test_the_agenda_is_closed_once_the_minutes_are_published(django_capture_on_commit_callbacks):
    org = make_org()
    meeting = _published_meeting(org, django_capture_on_commit_callbacks)
    item = meeting.items.get()
    with pytest.raises(InvalidTransition, match="agenda is closed"):
        services.agenda_item_add(meeting=meeting, by=org.chair, title="AOB")
    with pytest.raises(InvalidTransition, match="agenda is closed"):
        services.agenda_item_move(item=item, by=org.chair, direction="down")
    assert list(meeting.items.all()) == [item]


def test_meetings_fall_on_the_configured_weekday_and_time(settings):
    settings.ML_REVIEW_WEEKDAY = 4
    settings.ML_REVIEW_TIME = "10:30"
    monday = timezone.make_aware(dt.datetime(2026, 11, 16, 9, 0))
    slot = services.next_meeting_time(monday)
    assert (slot.weekday(), slot.hour, slot.minute, slot.day) == (4, 10, 30, 20)
    assert services.next_meeting_time(slot).day == 27


def test_the_chair_is_handed_on_when_the_term_ends_and_audited():
    org = make_org(council_size=3)
    today = timezone.localdate()
    term = ChairTerm.objects.get(user=org.chair)
    assert services.chair_rotate(today=today) is None  # the term still runs
    expected = services.chair_next_candidate(today=term.end_date)
    assert expected is not None and expected != org.chair
    new_term = services.chair_rotate(today=term.end_date + relativedelta(days=1))
    assert new_term.user == expected
    assert new_term.end_date == term.end_date + relativedelta(months=12)
    event = AuditEvent.objects.filter(verb="chair.handed_over").last()
    assert (event.from_state, event.to_state) == (org.chair.username, expected.username)


# --- concurrency -----------------------------------------------------------------------------

def _in_threads(functions):
    barrier = threading.Barrier(len(functions))
    errors: list[BaseException] = []

    def run(fn):
        try:
            barrier.wait(timeout=10)
            fn()
        except BaseException as exc:  # collected and raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_are_all_counted_and_decide_once():
    org = make_org(council_size=6)
    proposal = in_council(org)
    votes = ["approve"] * 4 + ["reject", "abstain"]
    errors = _in_threads([
        (lambda m=m, v=v: services.council_vote_cast(proposal=proposal, by=m, vote=v)) for m, v in zip(org.council, votes)
    ])
    assert not errors, errors
    assert Vote.objects.filter(item__proposal=proposal).count() == 6
    proposal.refresh_from_db()
    assert proposal.state == S.APPROVED
    assert AuditEvent.objects.filter(object_id=str(proposal.pk), verb="council.approved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_pod_reviews_are_all_kept():
    org = make_org()
    proposal = submitted(org)
    errors = _in_threads([
        (lambda lead=lead: services.pod_review_record(proposal=proposal, by=lead, decision="approve")) for lead in org.pod_leads
    ])
    assert not errors, errors
    proposal.refresh_from_db()
    assert proposal.state == S.COUNCIL_REVIEW
    assert PodReview.objects.filter(proposal=proposal).count() == 4
    assert AgendaItem.objects.filter(proposal=proposal).count() == 1


# --- a pod with no leads -------------------------------------------------------------------

def test_submitting_to_a_pod_with_no_leads_is_refused_and_skips_nothing():
    from portal.tests.factories import PodFactory

    org = make_org()
    payments = PodFactory(name="Payments")
    proposal = services.proposal_create(author=org.author, data=complete_data(org, pod=payments))

    with pytest.raises(InvalidTransition) as refused:
        services.proposal_submit(proposal=proposal, by=org.author)

    assert refused.value.message == "The Payments pod has no leads; ask an administrator to name them."
    proposal.refresh_from_db()
    assert proposal.state == S.DRAFT
    assert not AgendaItem.objects.filter(proposal=proposal).exists()


def test_the_proposal_page_says_why_it_cannot_be_submitted_to_a_pod_with_no_leads():
    from portal.tests.factories import PodFactory
    from portal.tests.fixtures import client_for, text_of

    org = make_org()
    proposal = services.proposal_create(author=org.author, data=complete_data(org, pod=PodFactory(name="Payments")))

    page = text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/"))

    assert "The Payments pod has no leads; ask an administrator to name them." in page
    assert "Submit for review" not in page


def test_a_stranger_is_told_it_is_not_theirs_to_submit_before_anything_about_the_pod():
    from portal.tests.factories import PodFactory

    org = make_org()
    proposal = services.proposal_create(author=org.author, data=complete_data(org, pod=PodFactory(name="Payments")))

    with pytest.raises(Forbidden):
        services.proposal_submit(proposal=proposal, by=org.outsider)
