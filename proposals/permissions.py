"""Who may do what to a proposal or a meeting, now. The one home of each rule.

Every ``can_*`` function answers "may this person do this now, and if not, why" as an
``Answer``. The services enforce the answer (``enforce``); the views, the API and the templates
ask the same function whether to show a button or the reason, so no page re-derives a rule.

A refusal says whether it is about the person (403: not you) or about the moment (409: not
now, e.g. the minutes are published or this round is already reviewed).
"""

from __future__ import annotations

from typing import NamedTuple

from portal.errors import Forbidden, InvalidTransition
from portal.models import LEAD_FUNCTIONS, PodLead, User
from portal.selectors import chair_term_current, council_member_list
from proposals.models import (
    PROPOSAL_TRANSITIONS,
    AgendaItem,
    ChangesRequestedBy,
    Meeting,
    PodReview,
    Proposal,
    ProposalState,
)

NOT_YOU = 403
NOT_NOW = 409


class Answer(NamedTuple):
    ok: bool
    reason: str = ""
    status: int = NOT_YOU

    @property
    def not_you(self) -> bool:
        """Refused because of who the person is, whatever the moment."""
        return not self.ok and self.status == NOT_YOU


YES = Answer(True)
# Whatever roles remain on record until someone reassigns them.
DEACTIVATED = Answer(False, "Deactivated people no longer review or vote.")


def enforce(answer: Answer, *, state: str = "", allowed_actions: list[str] | None = None) -> None:
    """Raise the refusal a service gives for a no: ``Forbidden`` (403) or ``InvalidTransition`` (409)."""
    if answer.ok:
        return
    if answer.status == NOT_NOW:
        raise InvalidTransition(answer.reason, state=state, allowed_actions=allowed_actions or [])
    raise Forbidden(answer.reason)


def enforce_on_proposal(answer: Answer, proposal: Proposal) -> None:
    enforce(answer, state=proposal.state, allowed_actions=PROPOSAL_TRANSITIONS.allowed(proposal.state))


def enforce_on_meeting(answer: Answer, meeting: Meeting) -> None:
    # A published meeting allows nothing more, so a refusal about it names no allowed actions.
    enforce(answer, state=meeting.state, allowed_actions=[])


# --- who is who ---------------------------------------------------------------------------

def is_council_member(user: User) -> bool:
    return bool(user and user.is_authenticated and council_member_list().filter(pk=user.pk).exists())


def is_chair(user: User) -> bool:
    term = chair_term_current()
    return bool(user and user.is_authenticated and term and term.user_id == user.pk)


def required_lead_functions(pod) -> list[str]:
    """The lead functions whose approval a pod's proposals need: each of PM, EM, DS manager and
    analytics manager that the pod has a lead for."""
    if pod is None:
        return []
    have = set(PodLead.objects.active().filter(pod=pod, function__in=LEAD_FUNCTIONS).values_list("function", flat=True))
    return [f.value for f in LEAD_FUNCTIONS if f.value in have]


def lead_functions_of(user: User, pod) -> list[str]:
    if pod is None or not user.is_authenticated or not user.is_active:
        return []
    return list(PodLead.objects.filter(pod=pod, user=user, function__in=LEAD_FUNCTIONS).values_list("function", flat=True))


def pod_review_functions_owed(user: User, proposal: Proposal) -> list[str]:
    """The person's required lead functions that have not reviewed the current round yet.

    One person can lead several functions of a pod; one review from them counts for each.
    """
    return pod_review_functions_owed_many(user, [proposal]).get(proposal.pk, [])


def pod_review_functions_owed_many(user: User, proposals: list[Proposal]) -> dict[int, list[str]]:
    """``pod_review_functions_owed`` for many proposals in three queries, whatever their number
    (the queue on every page asks this of every proposal in review)."""
    if not proposals or not user.is_authenticated:
        return {}
    pods = {p.pod_id for p in proposals if p.pod_id}
    leads = list(PodLead.objects.active().filter(pod_id__in=pods, function__in=LEAD_FUNCTIONS)
                 .values_list("pod_id", "function", "user_id"))
    required = {pod: {f for p, f, _ in leads if p == pod} for pod in pods}
    mine = {pod: {f for p, f, u in leads if p == pod and u == user.pk} for pod in pods}
    done: dict[tuple[int, int], set[str]] = {}
    for proposal_id, round_, function in PodReview.objects.filter(proposal__in=proposals).values_list(
            "proposal_id", "review_round", "function"):
        done.setdefault((proposal_id, round_), set()).add(function)
    owed = {}
    for proposal in proposals:
        functions = [f.value for f in LEAD_FUNCTIONS if f.value in required.get(proposal.pod_id, set())
                     and f.value in mine.get(proposal.pod_id, set())]
        owed[proposal.pk] = [f for f in functions if f not in done.get((proposal.pk, proposal.review_round), set())]
    return owed


def _chair_only(user: User, what: str) -> Answer:
    if is_chair(user):
        return YES
    return Answer(False, f"Only the Council chair can {what}.")


# --- proposals ----------------------------------------------------------------------------

def can_edit(user: User, proposal: Proposal) -> Answer:
    """The state first: once escalated or final, the content stays as it was decided on, for everyone."""
    if not PROPOSAL_TRANSITIONS.is_allowed(proposal.state, "edit"):
        if proposal.state == ProposalState.ESCALATED:
            return Answer(False, "This proposal is escalated to the chair: its content stays as the Council voted on it.",
                          NOT_NOW)
        return Answer(False, f"This proposal is {proposal.get_state_display().lower()}: it can no longer be edited.",
                      NOT_NOW)
    if user.pk in (proposal.author_id, proposal.technical_lead_id):
        return YES
    if lead_functions_of(user, proposal.pod):
        return YES
    # Council members may fix a proposal while they review it (a typo, a wrong figure).
    if proposal.state == ProposalState.COUNCIL_REVIEW and is_council_member(user):
        return YES
    return Answer(False, "Only the author, the technical lead and the pod's leads can edit this proposal.")


def can_submit(user: User, proposal: Proposal) -> Answer:
    if user.pk not in (proposal.author_id, proposal.technical_lead_id):
        return Answer(False, "Only the author or the technical lead can submit this proposal.")
    return pod_can_review(proposal)


def pod_can_review(proposal: Proposal) -> Answer:
    """A submission goes to its pod's leads first; a pod with none would skip that review, so it
    waits until an administrator names them. Changes the Council asked for go back to the Council
    and need no pod."""
    if proposal.state == ProposalState.CHANGES_REQUESTED and proposal.changes_requested_by == ChangesRequestedBy.COUNCIL:
        return YES
    if proposal.pod_id is None or required_lead_functions(proposal.pod):
        return YES  # a missing pod is a missing field, which submitting names
    return Answer(False, f"The {proposal.pod.name} pod has no leads; ask an administrator to name them.", NOT_NOW)


def can_withdraw(user: User, proposal: Proposal) -> Answer:
    if user.pk == proposal.author_id:
        return YES
    return Answer(False, "Only the author can withdraw this proposal.")


def can_pod_review(user: User, proposal: Proposal) -> Answer:
    """A required lead of the pod, with at least one of their functions still owing this round's review."""
    if not user.is_active:
        return DEACTIVATED
    mine = set(lead_functions_of(user, proposal.pod)) & set(required_lead_functions(proposal.pod))
    if not mine:
        pod = f"the {proposal.pod.name} pod" if proposal.pod_id else "its pod"
        return Answer(False, f"Only the required leads of {pod} review this proposal.")
    if not pod_review_functions_owed(user, proposal):
        return Answer(False, "You have already reviewed this round of the proposal.", NOT_NOW)
    return YES


def can_vote(user: User) -> Answer:
    if not user.is_active:
        return DEACTIVATED
    if is_council_member(user):
        return YES
    return Answer(False, "Only ML Council members vote.")


def can_close_vote(user: User, proposal: Proposal) -> Answer:
    if not is_chair(user):
        return _chair_only(user, "close a vote")
    if not AgendaItem.objects.filter(proposal=proposal, vote_open=True).exists():
        return Answer(False, "No vote is open.", NOT_NOW)
    return YES


def can_decide_escalation(user: User) -> Answer:
    return _chair_only(user, "decide escalations")


# --- ML Review meetings ---------------------------------------------------------------------
# The person first, then the moment: someone who could never do it is told so, not that it is late.

def can_take_notes(user: User, meeting: Meeting) -> Answer:
    if not (is_council_member(user) or is_chair(user)):
        return Answer(False, "Only ML Council members take notes at ML Review.")
    if meeting.is_published:
        return Answer(False, "The minutes are published; notes can no longer change.", NOT_NOW)
    return YES


def can_record_attendance(user: User, meeting: Meeting) -> Answer:
    answer = _chair_only(user, "record attendance")
    if answer.ok and meeting.is_published:
        return Answer(False, "The minutes are published; attendance can no longer change.", NOT_NOW)
    return answer


def can_add_agenda_item(user: User, meeting: Meeting) -> Answer:
    answer = _chair_only(user, "add agenda items")
    if answer.ok and meeting.is_published:
        return Answer(False, "The minutes of this meeting are published; its agenda is closed.", NOT_NOW)
    return answer


def can_reorder_agenda(user: User, meeting: Meeting) -> Answer:
    answer = _chair_only(user, "reorder the agenda")
    if answer.ok and meeting.is_published:
        return Answer(False, "The minutes of this meeting are published; its agenda is closed.", NOT_NOW)
    return answer


def can_publish_minutes(user: User, meeting: Meeting) -> Answer:
    answer = _chair_only(user, "publish the minutes")
    if answer.ok and meeting.is_published:
        return Answer(False, "The minutes of this meeting are already published.", NOT_NOW)
    return answer


# --- the actions on a proposal, by name ------------------------------------------------------

_PROPOSAL_ACTION_RULES = {
    "edit": can_edit,
    "submit": can_submit,
    "withdraw": can_withdraw,
    "pod_review": can_pod_review,
    "council_vote": lambda user, proposal: can_vote(user),
    "close_vote": can_close_vote,
    "chair_decision": lambda user, proposal: can_decide_escalation(user),
}


def can_act(user: User, proposal: Proposal, action: str) -> Answer:
    """May this person take ``action`` (a name from ``PROPOSAL_TRANSITIONS``) on the proposal now."""
    if not PROPOSAL_TRANSITIONS.is_allowed(proposal.state, action) and action != "edit":
        # can_edit words its own state refusal; the others share the transition table's wording.
        try:
            PROPOSAL_TRANSITIONS.require(proposal.state, action)
        except InvalidTransition as refusal:
            return Answer(False, refusal.message, NOT_NOW)
    return _PROPOSAL_ACTION_RULES[action](user, proposal)


def proposal_actions(user: User, proposal: Proposal) -> dict[str, Answer]:
    """Each action the proposal's state allows, answered for this person."""
    return {action: can_act(user, proposal, action) for action in PROPOSAL_TRANSITIONS.allowed(proposal.state)}
