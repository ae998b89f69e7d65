"""Writes for proposals and their pod reviews: drafting, amending, submitting, withdrawing.

Each public function is one state change in one transaction: it checks the allowed transition
and the permission, writes, audits, and queues side effects after commit.
"""

from __future__ import annotations

from typing import Any, Iterable

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import DomainError, InvalidTransition
from portal.models import User
from portal.services import audit_record
from proposals import notifications, permissions
from proposals.models import (
    PROPOSAL_TRANSITIONS,
    AgendaItem,
    ChangesRequestedBy,
    PodReview,
    Proposal,
    ProposalKind,
    ProposalRevision,
    ProposalState,
    ReviewDecision,
    TeamMember,
    Vote,
)
from proposals.services.meetings import _agenda_add_review

S = ProposalState

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

# The fields a review or a vote is given on: changing one after reviews or votes were cast makes
# those answer a different proposal, so they are reset (kept in the history, no longer counted).
MATERIAL_FIELDS = ["technical_lead", "team", "pod", "kind", "estimated_yearly_impact",
                   "build_cost_person_weeks", "yearly_maintenance_cost"]

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

# The fields each kind asks for at all (the form shows only these, the proposal page lists only
# these); what submitting needs (REQUIRED_TO_SUBMIT) is a subset. An infrastructure build-or-buy is
# judged on its cost, its impact and the options it beats, not on a model's success metric or
# whether the model's statistics or its production performance is the hard part; a hiring job
# description is the role, why it is needed and who it reports to.
_EVERYONE = ["title", "kind", "pod", "business_problem", "proposed_solution", "technical_lead", "watchers"]
KIND_FIELDS: dict[str, list[str]] = {
    ProposalKind.ML_APPLICATION: list(CONTENT_FIELDS),
    ProposalKind.BUILD_OR_BUY: [f for f in CONTENT_FIELDS if f not in (
        "success_metric_name", "success_metric_baseline", "success_metric_target", "biggest_blocker")],
    ProposalKind.HIRING: [f for f in CONTENT_FIELDS if f in _EVERYONE],
}
assert all(set(REQUIRED_TO_SUBMIT[k]) <= set(KIND_FIELDS[k]) for k in ProposalKind.values)



# Shared with the council services (package-internal, hence the underscore).
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
    PROPOSAL_TRANSITIONS.require(proposal.state, "edit")
    permissions.enforce_on_proposal(permissions.can_edit(by, proposal), proposal)
    before = snapshot(proposal)
    _apply(proposal, data)
    proposal.refresh_from_db()
    after = snapshot(proposal)
    changed = [f for f in CONTENT_FIELDS if before.get(f) != after.get(f)]
    if not changed:
        return proposal
    if proposal.state != S.DRAFT:
        material = [f for f in changed if f in MATERIAL_FIELDS]
        if material and "pod" in material and proposal.state == S.POD_REVIEW:
            permissions.enforce_on_proposal(permissions.pod_can_review(proposal), proposal)
        revision = _revision_add(proposal, by=by, changed=changed, note=note)
        audit_record(actor=by, verb="proposal.amended", obj=proposal, from_state=proposal.state,
                     to_state=proposal.state, data={"revision": revision.number, "changed": changed})
        if material:
            _reviews_reset(proposal, by=by, fields=material, revision=revision.number)
    else:
        audit_record(actor=by, verb="proposal.edited", obj=proposal, data={"changed": changed})
    return proposal


def _reviews_reset(proposal: Proposal, *, by: User, fields: list[str], revision: int) -> None:
    """A material amendment in review: the reviews of the current pod round, or the ballots on the
    open vote, answered the proposal as it was. Start a new pod round, or mark those ballots
    superseded, and say so in the history; nothing is deleted."""
    data: dict[str, Any] = {"fields": fields, "revision": revision}
    if proposal.state == S.POD_REVIEW:
        reviews = list(proposal.pod_reviews.filter(review_round=proposal.review_round))
        if not reviews:
            if "pod" in fields:  # nobody reviewed yet: the new pod's leads are asked instead
                notifications.owed_moot(proposal=proposal)
                notifications.proposal_review_owed(proposal=proposal)
            return
        proposal.review_round += 1
        proposal.save(update_fields=["review_round", "updated_at"])
        data.update(reset="pod_reviews", reviews=len(reviews), round=proposal.review_round,
                    reviewers=sorted({r.reviewer.username for r in reviews}))
    elif proposal.state == S.COUNCIL_REVIEW:
        item = AgendaItem.objects.filter(proposal=proposal, vote_open=True).first()
        ballots = list(item.votes.counting().select_related("voter")) if item is not None else []
        if not ballots:
            return
        Vote.objects.filter(pk__in=[b.pk for b in ballots]).update(superseded_at=timezone.now(),
                                                                   superseded_by_revision=revision)
        data.update(reset="votes", votes=len(ballots), item=item.pk,
                    voters=sorted(b.voter.username for b in ballots))
    else:
        return
    audit_record(actor=by, verb="proposal.reviews_reset", obj=proposal, from_state=proposal.state,
                 to_state=proposal.state, data=data)
    if data["reset"] == "pod_reviews":
        notifications.owed_moot(proposal=proposal)
        notifications.proposal_review_owed(proposal=proposal)
    else:
        notifications.proposal_votes_reset(proposal=proposal, item=item, voters=[b.voter for b in ballots],
                                           revision=revision)


@transaction.atomic
def proposal_submit(*, proposal: Proposal, by: User) -> Proposal:
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "submit")
    answer = permissions.can_submit(by, proposal)
    if answer.not_you:
        permissions.enforce_on_proposal(answer, proposal)
    missing = missing_for_submit(proposal)
    if missing:
        names = ", ".join(FIELD_LABELS[m].lower() for m in missing)
        raise DomainError(f"Fill in before submitting: {names}.", missing_fields=missing)
    permissions.enforce_on_proposal(answer, proposal)
    from_state = proposal.state
    now = timezone.now()
    proposal.submitted_at = proposal.submitted_at or now
    resubmitted_to_council = from_state == S.CHANGES_REQUESTED and proposal.changes_requested_by == ChangesRequestedBy.COUNCIL
    proposal.changes_requested_by = ""
    if resubmitted_to_council:
        # Changes the Council asked for go straight back to the Council (a pod with no leads
        # never gets this far: can_submit refuses it).
        proposal.state = S.COUNCIL_REVIEW
    else:
        proposal.state = S.POD_REVIEW
        proposal.review_round += 1
    proposal.save()
    revision = _revision_add(proposal, by=by, changed=[], note="Resubmitted" if from_state != S.DRAFT else "Submitted")
    data = {"revision": revision.number, "review_round": proposal.review_round}
    item = _agenda_add_review(proposal) if proposal.state == S.COUNCIL_REVIEW else None
    if item is not None:
        data.update(_agenda_data(item))
    event = audit_record(actor=by, verb="proposal.submitted", obj=proposal, from_state=from_state,
                         to_state=proposal.state, data=data)
    notifications.proposal_state_changed(proposal=proposal, event=event, actor=by)
    if item is not None:
        notifications.proposal_vote_owed(proposal=proposal, item=item)
    else:
        notifications.proposal_review_owed(proposal=proposal)
    return proposal


def _agenda_data(item: AgendaItem) -> dict:
    # The history says which ML Review a proposal went to ("on the 2 December agenda").
    return {"agenda_item": item.pk, "agenda_meeting": timezone.localtime(item.meeting.scheduled_for).isoformat()}


@transaction.atomic
def proposal_withdraw(*, proposal: Proposal, by: User, reason: str = "") -> Proposal:
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "withdraw")
    permissions.enforce_on_proposal(permissions.can_withdraw(by, proposal), proposal)
    from_state = proposal.state
    proposal.state = S.WITHDRAWN
    proposal.decided_at = timezone.now()
    proposal.decision_note = reason
    proposal.save()
    AgendaItem.objects.filter(proposal=proposal, vote_open=True).update(vote_open=False, closed_at=timezone.now())
    notifications.owed_moot(proposal=proposal)
    event = audit_record(actor=by, verb="proposal.withdrawn", obj=proposal, from_state=from_state,
                         to_state=proposal.state, data={"reason": reason} if reason else {})
    if from_state != S.DRAFT:  # a draft nobody reviewed goes quietly
        notifications.proposal_state_changed(proposal=proposal, event=event, actor=by)
    return proposal


def _decide(proposal: Proposal, state: str, *, by: User | None, verb: str, note: str = "", data: dict | None = None) -> None:
    from_state = proposal.state
    proposal.state = state
    if state in (S.APPROVED, S.REJECTED):
        proposal.decided_at = timezone.now()
    if state == S.CHANGES_REQUESTED:
        proposal.changes_requested_by = (
            ChangesRequestedBy.POD if from_state == S.POD_REVIEW else ChangesRequestedBy.COUNCIL
        )
    if note:
        proposal.decision_note = note
    proposal.save()
    event = audit_record(actor=by, verb=verb, obj=proposal, from_state=from_state, to_state=state, data=data or {})
    notifications.owed_moot(proposal=proposal)
    notifications.proposal_state_changed(proposal=proposal, event=event, actor=by)
    if state == S.APPROVED:
        from proposals.signals import proposal_approved

        transaction.on_commit(lambda: proposal_approved.send(sender=Proposal, proposal_id=proposal.pk))


# --- pod review ------------------------------------------------------------------------

@transaction.atomic
def pod_review_record(*, proposal: Proposal, by: User, decision: str, comment: str = "") -> list[PodReview]:
    if decision not in ReviewDecision.values:
        raise DomainError(f"decision must be one of {', '.join(ReviewDecision.values)}, not {decision!r}.")
    proposal = _lock(proposal)
    PROPOSAL_TRANSITIONS.require(proposal.state, "pod_review")
    permissions.enforce_on_proposal(permissions.can_pod_review(by, proposal), proposal)
    if decision != ReviewDecision.APPROVE and not comment.strip():
        raise DomainError("Say why in a comment when you request changes or reject.")
    required = permissions.required_lead_functions(proposal.pod)
    todo = permissions.pod_review_functions_owed(by, proposal)
    try:
        with transaction.atomic():
            reviews = [
                PodReview.objects.create(proposal=proposal, review_round=proposal.review_round, function=f,
                                         reviewer=by, decision=decision, comment=comment.strip())
                for f in todo
            ]
    except IntegrityError:
        raise InvalidTransition("Another review for your function was recorded at the same moment.",
                                state=proposal.state, allowed_actions=PROPOSAL_TRANSITIONS.allowed(proposal.state))
    audit_record(actor=by, verb="proposal.pod_reviewed", obj=proposal, from_state=proposal.state,
                 to_state=proposal.state, data={"decision": decision, "functions": todo, "round": proposal.review_round,
                                                "comment": comment.strip()})
    notifications.owed_done(proposal=proposal, by=by)
    this_round = list(proposal.pod_reviews.filter(review_round=proposal.review_round))
    decisions = {r.function: r.decision for r in this_round}
    if ReviewDecision.REJECT in decisions.values():
        _decide(proposal, S.REJECTED, by=by, verb="proposal.rejected_by_pod", note=comment)
    elif ReviewDecision.REQUEST_CHANGES in decisions.values():
        _decide(proposal, S.CHANGES_REQUESTED, by=by, verb="proposal.changes_requested", note=comment)
    elif all(decisions.get(f) == ReviewDecision.APPROVE for f in required):
        # On the agenda first, so the people told it moved on are told which ML Review votes on it.
        item = _agenda_add_review(proposal)
        _decide(proposal, S.COUNCIL_REVIEW, by=by, verb="proposal.pod_approved", data=_agenda_data(item))
        notifications.proposal_vote_owed(proposal=proposal, item=item)
    return reviews

