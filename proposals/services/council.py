"""Writes for the ML Council: votes and their outcome, escalations the chair decides, and the
rotation of the chair.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import DomainError
from portal.models import ChairTerm, CouncilMembership, User
from portal.selectors import chair_term_current, council_member_list
from portal.services import audit_record
from proposals import notifications, permissions
from proposals.models import (
    PROPOSAL_TRANSITIONS,
    AgendaItem,
    ChairDecision,
    ChairDecisionChoice,
    ItemKind,
    Meeting,
    MeetingState,
    Proposal,
    ProposalState,
    Vote,
    VoteChoice,
    VoteOutcome,
)
from proposals.services.meetings import _agenda_add_review, next_meeting_time
from proposals.services.proposals import _decide, _lock

S = ProposalState

# --- council votes ------------------------------------------------------------------------

def tally_count(item: AgendaItem) -> dict[str, Any]:
    counts = {c: 0 for c in VoteChoice.values}
    counting = item.votes.counting()
    for choice in counting.values_list("choice", flat=True):
        counts[choice] += 1
    members = council_member_list()
    voters = set(counting.values_list("voter_id", flat=True))
    present = voters | set(item.meeting.attendees.values_list("id", flat=True))
    return {
        **counts,
        "members": members.count(),
        "voted": len(voters),
        "present": len(present & set(members.values_list("id", flat=True))) or len(voters),
    }


def tally_outcome(tally: dict[str, Any]) -> str:
    """Apply the quorum and majority rules (settings COUNCIL_QUORUM, COUNCIL_MAJORITY)."""
    members, present = tally["members"], tally["present"]
    needed_present = max(1, math.ceil(members * settings.COUNCIL_QUORUM))
    if present < needed_present:
        return VoteOutcome.NO_QUORUM
    if settings.COUNCIL_MAJORITY == "votes_cast":
        base = tally[VoteChoice.APPROVE] + tally[VoteChoice.REJECT] + tally[VoteChoice.REQUEST_CHANGES]
    else:
        base = present
    majority = base // 2 + 1
    for choice, outcome in (
        (VoteChoice.APPROVE, VoteOutcome.APPROVED),
        (VoteChoice.REJECT, VoteOutcome.REJECTED),
        (VoteChoice.REQUEST_CHANGES, VoteOutcome.CHANGES_REQUESTED),
    ):
        if base and tally[choice] >= majority:
            return outcome
    return VoteOutcome.SPLIT


def _open_item(proposal: Proposal) -> AgendaItem:
    item = AgendaItem.objects.select_for_update().filter(proposal=proposal, vote_open=True).first()
    if item is None:
        item = _agenda_add_review(proposal)
        item = AgendaItem.objects.select_for_update().get(pk=item.pk)
    return item


@transaction.atomic
def council_vote_cast(*, proposal: Proposal, by: User, vote: str, comment: str = "") -> Vote:
    if vote not in VoteChoice.values:
        raise DomainError(f"vote must be one of {', '.join(VoteChoice.values)}, not {vote!r}.")
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "council_vote")
    permissions.enforce_on_proposal(permissions.can_vote(by), proposal)
    item = _open_item(proposal)
    revision = proposal.revisions.aggregate(n=Max("number"))["n"]
    ballot, created = Vote.objects.update_or_create(
        item=item, voter=by, superseded_at=None,
        defaults={"choice": vote, "comment": comment.strip(), "revision": revision})
    item.meeting.attendees.add(by)
    audit_record(actor=by, verb="council.voted" if created else "council.vote_changed", obj=proposal,
                 from_state=proposal.state, to_state=proposal.state,
                 data={"vote": vote, "item": item.pk, "meeting": item.meeting_id, "revision": revision,
                       "comment": comment.strip(),
                       "meeting_at": timezone.localtime(item.meeting.scheduled_for).isoformat()})
    notifications.owed_done(proposal=proposal, by=by)
    tally = tally_count(item)
    if tally["voted"] >= tally["members"]:
        _close_vote(proposal, item, by=None, reason="every member voted")
    return ballot


@transaction.atomic
def council_vote_close(*, proposal: Proposal, by: User) -> AgendaItem:
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "close_vote")
    # A proposal in council review always has an open vote; _open_item repairs one that lost it,
    # so the permission below only ever refuses the person.
    item = _open_item(proposal)
    permissions.enforce_on_proposal(permissions.can_close_vote(by, proposal), proposal)
    return _close_vote(proposal, item, by=by, reason="closed by the chair")


def _close_vote(proposal: Proposal, item: AgendaItem, *, by: User | None, reason: str) -> AgendaItem:
    tally = tally_count(item)
    outcome = tally_outcome(tally)
    item.vote_open = False
    item.outcome = outcome
    item.tally = tally
    item.closed_at = timezone.now()
    item.closed_by = by
    item.save()
    data = {"tally": tally, "outcome": outcome, "reason": reason, "item": item.pk}
    if outcome == VoteOutcome.APPROVED:
        _decide(proposal, S.APPROVED, by=by, verb="council.approved", data=data)
    elif outcome == VoteOutcome.REJECTED:
        _decide(proposal, S.REJECTED, by=by, verb="council.rejected", data=data)
    elif outcome == VoteOutcome.CHANGES_REQUESTED:
        _decide(proposal, S.CHANGES_REQUESTED, by=by, verb="council.changes_requested", data=data)
    elif outcome == VoteOutcome.SPLIT:
        _decide(proposal, S.ESCALATED, by=by, verb="council.escalated", data=data)
    else:
        following = Meeting.objects.filter(state=MeetingState.SCHEDULED, scheduled_for__gt=item.meeting.scheduled_for).order_by("scheduled_for").first()
        again = _agenda_add_review(proposal, kind=ItemKind.FOLLOW_UP, meeting=following or Meeting.objects.get_or_create(
            scheduled_for=next_meeting_time(item.meeting.scheduled_for))[0])
        event = audit_record(actor=by, verb="council.no_quorum", obj=proposal, from_state=proposal.state,
                             to_state=proposal.state,
                             data={**data, "agenda_meeting": timezone.localtime(again.meeting.scheduled_for).isoformat()})
        notifications.owed_moot(proposal=proposal)
        notifications.proposal_moved_to_next_review(proposal=proposal, event=event)
        notifications.proposal_vote_owed(proposal=proposal, item=again)
    return item


@transaction.atomic
def chair_decide(*, proposal: Proposal, by: User, decision: str, rationale: str) -> ChairDecision:
    if decision not in ChairDecisionChoice.values:
        raise DomainError(f"decision must be approve or reject, not {decision!r}.")
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "chair_decision")
    permissions.enforce_on_proposal(permissions.can_decide_escalation(by), proposal)
    if not (rationale or "").strip():
        raise DomainError("The chair's decision needs a rationale: it is recorded in the minutes.")
    item = AgendaItem.objects.filter(proposal=proposal, outcome=VoteOutcome.SPLIT).order_by("-closed_at").first()
    decided = ChairDecision.objects.create(proposal=proposal, chair=by, decision=decision, rationale=rationale.strip(), item=item)
    _decide(proposal, S.APPROVED if decision == ChairDecisionChoice.APPROVE else S.REJECTED, by=by, verb="chair.decided",
            note=rationale.strip(), data={"decision": decision, "rationale": rationale.strip()})
    return decided



# --- chair rotation -------------------------------------------------------------------------

def chair_next_candidate(*, today: dt.date | None = None) -> User | None:
    """Who chairs next: the council member who has gone longest without chairing (never first),
    then by how long they have been on the council."""
    today = today or timezone.localdate()
    current = chair_term_current(day=today)
    members = list(council_member_list(day=today))
    if current is not None:
        others = [m for m in members if m.pk != current.user_id]
        members = others or members

    def key(user: User):
        last = ChairTerm.objects.filter(user=user).aggregate(m=Max("end_date"))["m"]
        since = CouncilMembership.objects.filter(user=user).aggregate(m=Max("start_date"))["m"]
        return (last is not None, last or dt.date.min, since or dt.date.max, user.username)

    return min(members, key=key) if members else None


@transaction.atomic
def chair_rotate(*, today: dt.date | None = None) -> ChairTerm | None:
    """Hand the chair on when the current term has ended. Does nothing while a term runs."""
    today = today or timezone.localdate()
    if chair_term_current(day=today) is not None:
        return None
    previous = ChairTerm.objects.filter(end_date__lt=today).order_by("-end_date").first()
    successor = chair_next_candidate(today=today)
    if successor is None:
        return None
    term = ChairTerm.objects.create(
        user=successor, start_date=today,
        end_date=today + relativedelta(months=settings.CHAIR_TERM_MONTHS) - relativedelta(days=1),
    )
    audit_record(actor=None, verb="chair.handed_over", obj=term,
                 from_state=previous.user.username if previous else "", to_state=successor.username,
                 data={"end_date": term.end_date.isoformat(), "source": "rotation"})
    return term

