"""Who may do what to a proposal or a meeting. Each rule returns a reason when it says no."""

from __future__ import annotations

from portal.models import LEAD_FUNCTIONS, PodLead, User
from portal.selectors import chair_term_current, council_member_list


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
    have = set(PodLead.objects.filter(pod=pod, function__in=LEAD_FUNCTIONS).values_list("function", flat=True))
    return [f.value for f in LEAD_FUNCTIONS if f.value in have]


def lead_functions_of(user: User, pod) -> list[str]:
    if pod is None or not user.is_authenticated:
        return []
    return list(PodLead.objects.filter(pod=pod, user=user, function__in=LEAD_FUNCTIONS).values_list("function", flat=True))


def can_edit(user: User, proposal) -> tuple[bool, str]:
    if user.pk in (proposal.author_id, proposal.technical_lead_id):
        return True, ""
    if lead_functions_of(user, proposal.pod):
        return True, ""
    if proposal.state == "council_review" and is_council_member(user):
        return True, ""
    return False, "Only the author, the technical lead and the pod's leads can edit this proposal."


def can_submit(user: User, proposal) -> tuple[bool, str]:
    if user.pk in (proposal.author_id, proposal.technical_lead_id):
        return True, ""
    return False, "Only the author or the technical lead can submit this proposal."


def can_withdraw(user: User, proposal) -> tuple[bool, str]:
    if user.pk == proposal.author_id:
        return True, ""
    return False, "Only the author can withdraw this proposal."


def can_pod_review(user: User, proposal) -> tuple[bool, str]:
    mine = set(lead_functions_of(user, proposal.pod)) & set(required_lead_functions(proposal.pod))
    if mine:
        return True, ""
    pod = f"the {proposal.pod.name} pod" if proposal.pod_id else "its pod"
    return False, f"Only the required leads of {pod} review this proposal."


def can_vote(user: User) -> tuple[bool, str]:
    if is_council_member(user):
        return True, ""
    return False, "Only ML Council members vote."


def chair_only(user: User, what: str) -> tuple[bool, str]:
    if is_chair(user):
        return True, ""
    return False, f"Only the Council chair can {what}."
