"""Writes for proposals, pod reviews, council votes, chair decisions and ML Review meetings.

Each public function is one state change in one transaction: it checks the permission
and the allowed transition, writes, audits, and queues side effects after commit.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.models import ChairTerm, CouncilMembership, User
from portal.selectors import chair_term_current, council_member_list
from portal.services import audit_record
from proposals import permissions
from proposals.models import (
    AgendaItem,
    ChairDecision,
    ItemKind,
    Meeting,
    MeetingState,
    PodReview,
    Proposal,
    ProposalKind,
    ProposalRevision,
    ProposalState,
    ReviewDecision,
    TeamMember,
    Vote,
    VoteChoice,
    VoteOutcome,
)

S = ProposalState

# The actions each state allows; an action outside its state answers 409 naming these.
ALLOWED_ACTIONS: dict[str, list[str]] = {
    S.DRAFT: ["edit", "submit", "withdraw"],
    S.POD_REVIEW: ["edit", "pod_review", "withdraw"],
    S.COUNCIL_REVIEW: ["edit", "council_vote", "close_vote", "withdraw"],
    S.CHANGES_REQUESTED: ["edit", "submit", "withdraw"],
    S.ESCALATED: ["chair_decision", "withdraw"],
    S.APPROVED: [],
    S.REJECTED: [],
    S.WITHDRAWN: [],
}

ACTION_LABELS = {
    "edit": "edit",
    "submit": "submit",
    "withdraw": "withdraw",
    "pod_review": "record a pod review on",
    "council_vote": "vote on",
    "close_vote": "close the vote on",
    "chair_decision": "decide",
}

# Content fields: what a revision snapshots and what an edit may change.
CONTENT_FIELDS = [
    "title", "kind", "pod", "business_problem", "proposed_solution", "success_metric_name",
    "success_metric_baseline", "success_metric_target", "estimated_yearly_impact", "impact_confidence",
    "build_cost_person_weeks", "yearly_maintenance_cost", "third_party_options", "technical_lead",
    "team", "biggest_blocker", "platform_components", "watchers",
]

FIELD_LABELS = {
    "title": "Title", "kind": "Kind", "pod": "Pod", "business_problem": "Business problem",
    "proposed_solution": "Proposed solution", "success_metric_name": "Success metric",
    "success_metric_baseline": "Success metric baseline", "success_metric_target": "Success metric target",
    "estimated_yearly_impact": "Estimated yearly impact", "impact_confidence": "Impact confidence",
    "build_cost_person_weeks": "Build cost (person-weeks)", "yearly_maintenance_cost": "Yearly maintenance cost",
    "third_party_options": "Third-party options considered", "technical_lead": "Technical lead", "team": "Team",
    "biggest_blocker": "Biggest blocker", "platform_components": "Platform components", "watchers": "Watchers",
}

_COMMON_REQUIRED = ["title", "pod", "business_problem", "proposed_solution", "technical_lead"]
REQUIRED_TO_SUBMIT: dict[str, list[str]] = {
    ProposalKind.ML_APPLICATION: _COMMON_REQUIRED + [
        "success_metric_name", "success_metric_baseline", "success_metric_target", "estimated_yearly_impact",
        "impact_confidence", "build_cost_person_weeks", "yearly_maintenance_cost", "biggest_blocker", "team",
    ],
    ProposalKind.BUILD_OR_BUY: _COMMON_REQUIRED + [
        "estimated_yearly_impact", "build_cost_person_weeks", "yearly_maintenance_cost", "third_party_options",
    ],
    ProposalKind.HIRING: _COMMON_REQUIRED,
}


def _require_action(proposal: Proposal, action: str) -> None:
    allowed = ALLOWED_ACTIONS[proposal.state]
    if action not in allowed:
        label = ProposalState(proposal.state).label.lower()
        raise InvalidTransition(
            f"Cannot {ACTION_LABELS.get(action, action)} this proposal: it is {label} ({proposal.state}). "
            + (f"Allowed now: {', '.join(allowed)}." if allowed else "It is final; nothing more can be done to it."),
            state=proposal.state,
            allowed_actions=allowed,
        )


def _require(permission: tuple[bool, str]) -> None:
    ok, reason = permission
    if not ok:
        raise Forbidden(reason)


def _lock(proposal: Proposal) -> Proposal:
    return Proposal.objects.select_for_update().get(pk=proposal.pk)


# --- content ---------------------------------------------------------------------------

def snapshot(proposal: Proposal) -> dict[str, Any]:
    def dec(value):
        return None if value is None else str(value)

    return {
        "title": proposal.title,
        "kind": proposal.kind,
        "pod": proposal.pod.name if proposal.pod_id else "",
        "business_problem": proposal.business_problem,
        "proposed_solution": proposal.proposed_solution,
        "success_metric_name": proposal.success_metric_name,
        "success_metric_baseline": dec(proposal.success_metric_baseline),
        "success_metric_target": dec(proposal.success_metric_target),
        "estimated_yearly_impact": dec(proposal.estimated_yearly_impact),
        "impact_confidence": proposal.impact_confidence,
        "build_cost_person_weeks": dec(proposal.build_cost_person_weeks),
        "yearly_maintenance_cost": dec(proposal.yearly_maintenance_cost),
        "third_party_options": proposal.third_party_options,
        "technical_lead": proposal.technical_lead.username if proposal.technical_lead_id else "",
        "team": [f"{m.user.username}" + (f" ({m.role})" if m.role else "") for m in proposal.team_members.select_related("user")],
        "biggest_blocker": proposal.biggest_blocker,
        "platform_components": list(proposal.platform_components or []),
        "watchers": sorted(proposal.watchers.values_list("username", flat=True)),
    }


def _apply(proposal: Proposal, data: dict[str, Any]) -> None:
    """Write content fields from already-validated data (model instances, Decimals, lists of users)."""
    unknown = set(data) - set(CONTENT_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    for name, value in data.items():
        if name in ("team", "watchers"):
            continue
        if isinstance(value, str) and name not in ("kind", "impact_confidence", "biggest_blocker"):
            value = value.strip()
        setattr(proposal, name, value)
    proposal.save()
    if "team" in data:
        _set_team(proposal, data["team"] or [])
    if "watchers" in data:
        proposal.watchers.set(data["watchers"] or [])


def _set_team(proposal: Proposal, members: Iterable) -> None:
    wanted: dict[int, str] = {}
    for entry in members:
        user, role = (entry if isinstance(entry, tuple) else (entry, ""))
        wanted[user.pk] = role or user.get_function_display()
    proposal.team_members.exclude(user_id__in=wanted).delete()
    for user_id, role in wanted.items():
        TeamMember.objects.update_or_create(proposal=proposal, user_id=user_id, defaults={"role": role})


def missing_for_submit(proposal: Proposal) -> list[str]:
    missing = []
    for name in REQUIRED_TO_SUBMIT[proposal.kind]:
        if name == "team":
            if not proposal.team_members.exists():
                missing.append(name)
            continue
        value = getattr(proposal, name if name not in ("pod", "technical_lead") else f"{name}_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(name)
    return missing


@transaction.atomic
def proposal_create(*, author: User, data: dict[str, Any]) -> Proposal:
    proposal = Proposal(author=author, kind=data.get("kind") or ProposalKind.ML_APPLICATION)
    proposal.save()
    _apply(proposal, data)
    if not data.get("watchers"):
        proposal.watchers.add(author)
    audit_record(actor=author, verb="proposal.created", obj=proposal, to_state=proposal.state)
    return proposal


def _revision_add(proposal: Proposal, *, by: User, changed: list[str], note: str = "") -> ProposalRevision:
    number = (proposal.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ProposalRevision.objects.create(
        proposal=proposal, number=number, author=by, snapshot=snapshot(proposal), changed_fields=changed, note=note[:300]
    )


@transaction.atomic
def proposal_update(*, proposal: Proposal, by: User, data: dict[str, Any], note: str = "") -> Proposal:
    """Edit a draft, or amend a submitted proposal (each amendment is a revision)."""
    proposal = _lock(proposal)
    _require_action(proposal, "edit")
    _require(permissions.can_edit(by, proposal))
    before = snapshot(proposal)
    _apply(proposal, data)
    proposal.refresh_from_db()
    after = snapshot(proposal)
    changed = [f for f in CONTENT_FIELDS if before.get(f) != after.get(f)]
    if not changed:
        return proposal
    if proposal.state != S.DRAFT:
        revision = _revision_add(proposal, by=by, changed=changed, note=note)
        audit_record(actor=by, verb="proposal.amended", obj=proposal, from_state=proposal.state,
                     to_state=proposal.state, data={"revision": revision.number, "changed": changed})
    else:
        audit_record(actor=by, verb="proposal.edited", obj=proposal, data={"changed": changed})
    return proposal


@transaction.atomic
def proposal_submit(*, proposal: Proposal, by: User) -> Proposal:
    proposal = _lock(proposal)
    _require_action(proposal, "submit")
    _require(permissions.can_submit(by, proposal))
    missing = missing_for_submit(proposal)
    if missing:
        names = ", ".join(FIELD_LABELS[m].lower() for m in missing)
        raise DomainError(f"Fill in before submitting: {names}.", missing_fields=missing)
    from_state = proposal.state
    now = timezone.now()
    proposal.submitted_at = proposal.submitted_at or now
    resubmitted_to_council = from_state == S.CHANGES_REQUESTED and proposal.changes_requested_by == "council"
    proposal.changes_requested_by = ""
    if resubmitted_to_council or not permissions.required_lead_functions(proposal.pod):
        # Changes the Council asked for go straight back to the Council; a pod with no
        # cross-functional leads has nobody to review at pod level.
        proposal.state = S.COUNCIL_REVIEW
    else:
        proposal.state = S.POD_REVIEW
        proposal.review_round += 1
    proposal.save()
    revision = _revision_add(proposal, by=by, changed=[], note="Resubmitted" if from_state != S.DRAFT else "Submitted")
    audit_record(actor=by, verb="proposal.submitted", obj=proposal, from_state=from_state, to_state=proposal.state,
                 data={"revision": revision.number, "review_round": proposal.review_round})
    if proposal.state == S.COUNCIL_REVIEW:
        _agenda_add_review(proposal)
    return proposal


@transaction.atomic
def proposal_withdraw(*, proposal: Proposal, by: User, reason: str = "") -> Proposal:
    proposal = _lock(proposal)
    _require_action(proposal, "withdraw")
    _require(permissions.can_withdraw(by, proposal))
    from_state = proposal.state
    proposal.state = S.WITHDRAWN
    proposal.decided_at = timezone.now()
    proposal.decision_note = reason
    proposal.save()
    AgendaItem.objects.filter(proposal=proposal, vote_open=True).update(vote_open=False, closed_at=timezone.now())
    audit_record(actor=by, verb="proposal.withdrawn", obj=proposal, from_state=from_state, to_state=proposal.state,
                 data={"reason": reason} if reason else {})
    return proposal


def _decide(proposal: Proposal, state: str, *, by: User | None, verb: str, note: str = "", data: dict | None = None) -> None:
    from_state = proposal.state
    proposal.state = state
    if state in (S.APPROVED, S.REJECTED):
        proposal.decided_at = timezone.now()
    if state == S.CHANGES_REQUESTED:
        proposal.changes_requested_by = "pod" if from_state == S.POD_REVIEW else "council"
    if note:
        proposal.decision_note = note
    proposal.save()
    audit_record(actor=by, verb=verb, obj=proposal, from_state=from_state, to_state=state, data=data or {})
    if state == S.APPROVED:
        from proposals.signals import proposal_approved

        transaction.on_commit(lambda: proposal_approved.send(sender=Proposal, proposal_id=proposal.pk))


# --- pod review ------------------------------------------------------------------------

@transaction.atomic
def pod_review_record(*, proposal: Proposal, by: User, decision: str, comment: str = "") -> list[PodReview]:
    if decision not in ReviewDecision.values:
        raise DomainError(f"decision must be one of {', '.join(ReviewDecision.values)}, not {decision!r}.")
    proposal = _lock(proposal)
    _require_action(proposal, "pod_review")
    _require(permissions.can_pod_review(by, proposal))
    if decision != ReviewDecision.APPROVE and not comment.strip():
        raise DomainError("Say why in a comment when you request changes or reject.")
    required = permissions.required_lead_functions(proposal.pod)
    mine = [f for f in permissions.lead_functions_of(by, proposal.pod) if f in required]
    done = set(proposal.pod_reviews.filter(review_round=proposal.review_round).values_list("function", flat=True))
    todo = [f for f in mine if f not in done]
    if not todo:
        raise InvalidTransition("You have already reviewed this round of the proposal.", state=proposal.state,
                                allowed_actions=ALLOWED_ACTIONS[proposal.state])
    try:
        with transaction.atomic():
            reviews = [
                PodReview.objects.create(proposal=proposal, review_round=proposal.review_round, function=f,
                                         reviewer=by, decision=decision, comment=comment.strip())
                for f in todo
            ]
    except IntegrityError:
        raise InvalidTransition("Another review for your function was recorded at the same moment.",
                                state=proposal.state, allowed_actions=ALLOWED_ACTIONS[proposal.state])
    audit_record(actor=by, verb="proposal.pod_reviewed", obj=proposal, from_state=proposal.state,
                 to_state=proposal.state, data={"decision": decision, "functions": todo, "round": proposal.review_round})
    this_round = list(proposal.pod_reviews.filter(review_round=proposal.review_round))
    decisions = {r.function: r.decision for r in this_round}
    if ReviewDecision.REJECT in decisions.values():
        _decide(proposal, S.REJECTED, by=by, verb="proposal.rejected_by_pod", note=comment)
    elif ReviewDecision.REQUEST_CHANGES in decisions.values():
        _decide(proposal, S.CHANGES_REQUESTED, by=by, verb="proposal.changes_requested", note=comment)
    elif all(decisions.get(f) == ReviewDecision.APPROVE for f in required):
        _decide(proposal, S.COUNCIL_REVIEW, by=by, verb="proposal.pod_approved")
        _agenda_add_review(proposal)
    return reviews


# --- meetings and agenda -------------------------------------------------------------------

def next_meeting_time(after: dt.datetime | None = None) -> dt.datetime:
    """The next ML Review slot (settings ML_REVIEW_WEEKDAY, ML_REVIEW_TIME) strictly after ``after``."""
    after = timezone.localtime(after or timezone.now())
    hour, minute = (int(x) for x in settings.ML_REVIEW_TIME.split(":"))
    days = (settings.ML_REVIEW_WEEKDAY - after.weekday()) % 7
    candidate = (after + dt.timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= after:
        candidate += dt.timedelta(days=7)
    return candidate


def meeting_next(*, now: dt.datetime | None = None) -> Meeting:
    """The next ML Review that has not published minutes, created when there is none.

    A meeting stays "next" for the rest of its day, so votes cast during it land on it.
    """
    now = now or timezone.now()
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    meeting = (
        Meeting.objects.filter(state=MeetingState.SCHEDULED, scheduled_for__gte=start_of_today)
        .order_by("scheduled_for")
        .first()
    )
    if meeting is None:
        meeting, created = Meeting.objects.get_or_create(scheduled_for=next_meeting_time(now))
        if created:
            audit_record(actor=None, verb="meeting.scheduled", obj=meeting, to_state=meeting.state)
    return meeting


def _next_position(meeting: Meeting) -> int:
    return (meeting.items.aggregate(p=Max("position"))["p"] or 0) + 1


def _agenda_add_review(proposal: Proposal, *, kind: str = ItemKind.REVIEW, meeting: Meeting | None = None) -> AgendaItem:
    existing = AgendaItem.objects.filter(proposal=proposal, vote_open=True).first()
    if existing is not None:
        return existing
    meeting = meeting or meeting_next()
    return AgendaItem.objects.create(
        meeting=meeting, position=_next_position(meeting), kind=kind, title=proposal.title,
        proposal=proposal, vote_open=True,
    )


def _agenda_add_escalation(proposal: Proposal, meeting: Meeting | None = None) -> AgendaItem:
    meeting = meeting or meeting_next()
    existing = meeting.items.filter(proposal=proposal, kind=ItemKind.ESCALATION).first()
    if existing:
        return existing
    return AgendaItem.objects.create(
        meeting=meeting, position=_next_position(meeting), kind=ItemKind.ESCALATION,
        title=f"Chair decision: {proposal.title}", proposal=proposal,
    )


@transaction.atomic
def agenda_build(*, meeting: Meeting) -> Meeting:
    """Bring a scheduled meeting's agenda up to date: every proposal in council review without an
    open vote, and every escalation still waiting for the chair."""
    if meeting.is_published:
        return meeting
    for proposal in Proposal.objects.filter(state=S.COUNCIL_REVIEW).exclude(agenda_items__vote_open=True):
        _agenda_add_review(proposal, meeting=meeting)
    for proposal in Proposal.objects.filter(state=S.ESCALATED):
        _agenda_add_escalation(proposal, meeting)
    return meeting


@transaction.atomic
def agenda_item_add(*, meeting: Meeting, by: User, title: str, proposal: Proposal | None = None,
                    kind: str = ItemKind.OTHER, notes: str = "") -> AgendaItem:
    _require(permissions.chair_only(by, "add agenda items"))
    if meeting.is_published:
        raise InvalidTransition("The minutes of this meeting are published; its agenda is closed.",
                                state=meeting.state, allowed_actions=[])
    title = (title or "").strip() or (proposal.title if proposal else "")
    if not title:
        raise DomainError("An agenda item needs a title.")
    if kind not in ItemKind.values:
        raise DomainError(f"kind must be one of {', '.join(ItemKind.values)}.")
    item = AgendaItem.objects.create(meeting=meeting, position=_next_position(meeting), kind=kind, title=title[:200],
                                     proposal=proposal, notes=notes, added_by=by)
    audit_record(actor=by, verb="agenda.item_added", obj=meeting, data={"item": item.pk, "title": item.title})
    return item


@transaction.atomic
def agenda_item_move(*, item: AgendaItem, by: User, direction: str) -> AgendaItem:
    _require(permissions.chair_only(by, "reorder the agenda"))
    if direction not in ("up", "down"):
        raise DomainError("direction must be up or down.")
    items = list(AgendaItem.objects.select_for_update().filter(meeting_id=item.meeting_id).order_by("position", "id"))
    index = next(i for i, it in enumerate(items) if it.pk == item.pk)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    for position, it in enumerate(items, start=1):
        if it.position != position:
            AgendaItem.objects.filter(pk=it.pk).update(position=position)
    audit_record(actor=by, verb="agenda.reordered", obj=item.meeting, data={"item": item.pk, "direction": direction})
    return AgendaItem.objects.get(pk=item.pk)


@transaction.atomic
def meeting_notes_update(*, meeting: Meeting, by: User, notes: str, item: AgendaItem | None = None) -> None:
    if not (permissions.is_council_member(by) or permissions.is_chair(by)):
        raise Forbidden("Only ML Council members take notes at ML Review.")
    if meeting.is_published:
        raise InvalidTransition("The minutes are published; notes can no longer change.", state=meeting.state, allowed_actions=[])
    if item is not None:
        if item.meeting_id != meeting.pk:
            raise DomainError("That agenda item belongs to another meeting.")
        AgendaItem.objects.filter(pk=item.pk).update(notes=notes)
    else:
        Meeting.objects.filter(pk=meeting.pk).update(notes=notes)


@transaction.atomic
def meeting_attendance_set(*, meeting: Meeting, by: User, present: Iterable[User]) -> None:
    _require(permissions.chair_only(by, "record attendance"))
    meeting.attendees.set(list(present))
    audit_record(actor=by, verb="meeting.attendance_recorded", obj=meeting,
                 data={"present": sorted(u.username for u in meeting.attendees.all())})


# --- council votes ------------------------------------------------------------------------

def tally_count(item: AgendaItem) -> dict[str, Any]:
    counts = {c: 0 for c in VoteChoice.values}
    for choice in item.votes.values_list("choice", flat=True):
        counts[choice] += 1
    members = council_member_list()
    voters = set(item.votes.values_list("voter_id", flat=True))
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
        base = tally["approve"] + tally["reject"] + tally["request_changes"]
    else:
        base = present
    majority = base // 2 + 1
    for choice, outcome in (
        ("approve", VoteOutcome.APPROVED),
        ("reject", VoteOutcome.REJECTED),
        ("request_changes", VoteOutcome.CHANGES_REQUESTED),
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
    _require_action(proposal, "council_vote")
    _require(permissions.can_vote(by))
    item = _open_item(proposal)
    ballot, created = Vote.objects.update_or_create(item=item, voter=by, defaults={"choice": vote, "comment": comment.strip()})
    item.meeting.attendees.add(by)
    audit_record(actor=by, verb="council.voted" if created else "council.vote_changed", obj=proposal,
                 from_state=proposal.state, to_state=proposal.state,
                 data={"vote": vote, "item": item.pk, "meeting": item.meeting_id})
    tally = tally_count(item)
    if tally["voted"] >= tally["members"]:
        _close_vote(proposal, item, by=None, reason="every member voted")
    return ballot


@transaction.atomic
def council_vote_close(*, proposal: Proposal, by: User) -> AgendaItem:
    proposal = _lock(proposal)
    _require_action(proposal, "close_vote")
    _require(permissions.chair_only(by, "close a vote"))
    item = _open_item(proposal)
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
        audit_record(actor=by, verb="council.no_quorum", obj=proposal, from_state=proposal.state,
                     to_state=proposal.state, data=data)
        following = Meeting.objects.filter(state=MeetingState.SCHEDULED, scheduled_for__gt=item.meeting.scheduled_for).order_by("scheduled_for").first()
        _agenda_add_review(proposal, kind=ItemKind.FOLLOW_UP, meeting=following or Meeting.objects.get_or_create(
            scheduled_for=next_meeting_time(item.meeting.scheduled_for))[0])
    return item


@transaction.atomic
def chair_decide(*, proposal: Proposal, by: User, decision: str, rationale: str) -> ChairDecision:
    if decision not in ("approve", "reject"):
        raise DomainError(f"decision must be approve or reject, not {decision!r}.")
    proposal = _lock(proposal)
    _require_action(proposal, "chair_decision")
    _require(permissions.chair_only(by, "decide escalations"))
    if not (rationale or "").strip():
        raise DomainError("The chair's decision needs a rationale: it is recorded in the minutes.")
    item = AgendaItem.objects.filter(proposal=proposal, outcome=VoteOutcome.SPLIT).order_by("-closed_at").first()
    decided = ChairDecision.objects.create(proposal=proposal, chair=by, decision=decision, rationale=rationale.strip(), item=item)
    _decide(proposal, S.APPROVED if decision == "approve" else S.REJECTED, by=by, verb="chair.decided",
            note=rationale.strip(), data={"decision": decision, "rationale": rationale.strip()})
    return decided


# --- minutes ------------------------------------------------------------------------------

@transaction.atomic
def minutes_publish(*, meeting: Meeting, by: User):
    """Publish the minutes and start the job that emails them. Open votes move to the next meeting."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    _require(permissions.chair_only(by, "publish the minutes"))
    if meeting.is_published:
        raise InvalidTransition("The minutes of this meeting are already published.", state=meeting.state, allowed_actions=[])
    carried = []
    open_items = list(meeting.items.filter(vote_open=True).select_related("proposal"))
    if open_items:
        following = Meeting.objects.get_or_create(scheduled_for=next_meeting_time(meeting.scheduled_for))[0]
        for item in open_items:
            AgendaItem.objects.filter(pk=item.pk).update(vote_open=False, notes=(item.notes + "\n\nCarried to the next ML Review.").strip())
            _agenda_add_review(item.proposal, kind=ItemKind.FOLLOW_UP, meeting=following)
            carried.append(item.title)
    meeting.state = MeetingState.MINUTES_PUBLISHED
    meeting.minutes_published_at = timezone.now()
    meeting.minutes_published_by = by
    meeting.save()
    audit_record(actor=by, verb="meeting.minutes_published", obj=meeting, from_state=MeetingState.SCHEDULED,
                 to_state=meeting.state, data={"carried": carried})
    from workers.services import job_start

    return job_start(kind="minutes_send", started_by=by, params={"meeting_id": meeting.pk}, obj=meeting,
                     message="Emailing the minutes.")


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
