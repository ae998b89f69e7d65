"""What happens next, in words, after someone acts on a proposal.

Each sentence is worked out from the state the action left the proposal in (who still has to
review, which ML Review it is on, how many members have voted, who the chair is), so the person
who pressed the button learns where the proposal went, not just that the click worked.
Read-only: the pages call these after the service call that changed the state.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateformat import format as date_format

from portal.models import Function
from portal.selectors import chair_term_current
from proposals import permissions, selectors, services
from proposals.models import AgendaItem, ChangesRequestedBy, Proposal, ProposalState, VoteOutcome

S = ProposalState
_FUNCTION_LABELS = dict(Function.choices)


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _day(item: AgendaItem) -> str:
    return date_format(timezone.localtime(item.meeting.scheduled_for), "j F")


def _leads_still_to_review(proposal: Proposal) -> list[str]:
    required = permissions.required_lead_functions(proposal.pod)
    done = set(proposal.pod_reviews.filter(review_round=proposal.review_round).values_list("function", flat=True))
    owed = [f for f in required if f not in done]
    leads = selectors.pod_leads_by_function(pod=proposal.pod, functions=owed)
    return [f"{leads[f].display_name} ({_FUNCTION_LABELS.get(f, f).lower()})" if f in leads
            else f"the {_FUNCTION_LABELS.get(f, f).lower()} lead" for f in owed]


def _on_the_agenda(proposal: Proposal) -> str:
    item = selectors.open_vote_item(proposal=proposal)
    if item is None:
        return "it moves to the ML Council, on the agenda of the next ML Review"
    return f"it moves to the ML Council and is on the {_day(item)} agenda"


def _chair() -> str:
    term = chair_term_current()
    return f"the chair, {term.user.display_name}," if term else "the chair"


def where_it_goes(proposal: Proposal) -> str:
    """One sentence on what happens to the proposal now, from its state."""
    state = proposal.state
    if state == S.POD_REVIEW:
        owed = _leads_still_to_review(proposal)
        pod = proposal.pod.name if proposal.pod_id else "its pod"
        if not owed:
            return "The pod's review is complete."
        return f"The leads of {pod} review it next: {_and(owed)}."
    if state == S.COUNCIL_REVIEW:
        return _capital(_on_the_agenda(proposal)) + "."
    if state == S.CHANGES_REQUESTED:
        back_to = "the ML Council" if proposal.changes_requested_by == ChangesRequestedBy.COUNCIL else "the pod's leads"
        return f"The author amends it as asked and resubmits it; it then goes back to {back_to}."
    if state == S.ESCALATED:
        return f"The vote was split: {_chair()} decides, with a rationale that goes into the minutes."
    if state == S.APPROVED:
        lead = proposal.technical_lead.display_name if proposal.technical_lead_id else "its technical lead"
        return f"Its ML project is created next, owned by {lead}."
    if state == S.REJECTED:
        return "Nothing more happens to it; a new proposal can take up what was learnt."
    if state == S.WITHDRAWN:
        return "Nothing more happens to it; it leaves every reviewer's queue."
    return ""


def submitted_to(proposal: Proposal) -> str:
    """Where a submission went, as the end of a sentence."""
    if proposal.state == S.COUNCIL_REVIEW:
        return f"{_on_the_agenda(proposal)}."
    next_words = where_it_goes(proposal)
    return f"{next_words[:1].lower()}{next_words[1:]}"


def after_submit(proposal: Proposal) -> str:
    return f"Submitted: {submitted_to(proposal)}"


def after_pod_review(proposal: Proposal, *, decision_label: str) -> str:
    done = f"Your review is recorded: {decision_label.lower()}."
    if proposal.state == S.POD_REVIEW:
        owed = _leads_still_to_review(proposal)
        return f"{done} Still to review: {_and(owed)}." if owed else done
    if proposal.state == S.COUNCIL_REVIEW:
        return f"{done} Last approval: {_on_the_agenda(proposal)}."
    if proposal.state == S.CHANGES_REQUESTED:
        return f"{done} Changes requested: the author amends it and resubmits it to the pod's leads."
    if proposal.state == S.REJECTED:
        return f"{done} Rejected: nothing more happens to it; your comment is kept as the reason."
    return f"{done} {where_it_goes(proposal)}"


def _outcome(proposal: Proposal, item: AgendaItem) -> str:
    if item.outcome == VoteOutcome.NO_QUORUM:
        following = selectors.open_vote_item(proposal=proposal)
        when = f"the {_day(following)} ML Review" if following else "the next ML Review"
        return f"No quorum: it is carried to {when}."
    return f"{item.get_outcome_display()}. {where_it_goes(proposal)}"


def after_vote(proposal: Proposal, *, item: AgendaItem) -> str:
    """``item`` is the agenda item voted on, reloaded after the vote (it may have closed)."""
    if item.vote_open:
        tally = services.tally_count(item)
        voted, members = tally["voted"], tally["members"]
        return (f"{voted} of {members} member{'s' if members != 1 else ''} ha{'ve' if voted != 1 else 's'} voted; "
                "the vote closes when everyone has voted or the chair closes it.")
    return f"That was the last vote. {_outcome(proposal, item)}"


def after_close(proposal: Proposal, *, item: AgendaItem) -> str:
    return f"Vote closed. {_outcome(proposal, item)}"


def after_chair_decision(proposal: Proposal) -> str:
    decided = "approved" if proposal.state == S.APPROVED else "rejected"
    return f"Decided: {decided}. The rationale goes into the minutes. {where_it_goes(proposal)}"


def after_withdraw(proposal: Proposal) -> str:
    return f"Withdrawn. {where_it_goes(proposal)}"
