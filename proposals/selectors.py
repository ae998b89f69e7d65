from __future__ import annotations

import statistics

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.models import User
from proposals import permissions
from proposals.models import (
    AgendaItem, Meeting, MeetingState, PodReview, Proposal, ProposalRevision, ProposalState, Vote,
)


def proposal_list(*, state: str | None = None, pod: str | None = None, kind: str | None = None,
                  q: str | None = None) -> QuerySet[Proposal]:
    qs = Proposal.objects.select_related("pod", "author", "technical_lead")
    if state:
        qs = qs.filter(state=state)
    if pod:
        qs = qs.filter(pod__name__iexact=pod)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.search((q or "").strip())


def proposal_get(*, proposal_id: int) -> Proposal:
    return get_object_or_404(
        Proposal.objects.select_related("pod", "author", "technical_lead").prefetch_related(
            "team_members__user", "watchers"
        ),
        pk=proposal_id,
    )


def revision_pair(*, proposal: Proposal, a: int, b: int) -> tuple[ProposalRevision, ProposalRevision]:
    first = get_object_or_404(ProposalRevision, proposal=proposal, number=a)
    second = get_object_or_404(ProposalRevision, proposal=proposal, number=b)
    return first, second


def open_vote_item(*, proposal: Proposal) -> AgendaItem | None:
    return AgendaItem.objects.filter(proposal=proposal, vote_open=True).select_related("meeting").first()


def meeting_list() -> QuerySet[Meeting]:
    return Meeting.objects.annotate(item_count=Count("items"))


def meeting_get(*, meeting_id: int) -> Meeting:
    items = AgendaItem.objects.select_related("proposal", "proposal__pod").prefetch_related(
        Prefetch("votes", queryset=Vote.objects.select_related("voter"))
    ).order_by("position", "id")
    return get_object_or_404(Meeting.objects.prefetch_related(Prefetch("items", queryset=items), "attendees"), pk=meeting_id)


def meeting_upcoming() -> Meeting | None:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Meeting.objects.filter(state=MeetingState.SCHEDULED, scheduled_for__gte=start).order_by("scheduled_for").first()


def my_queue(*, user: User) -> dict[str, list]:
    """What this person owes: pod reviews, council votes, drafts and changes to make, escalations."""
    reviews = []
    for proposal in Proposal.objects.filter(state=ProposalState.POD_REVIEW, pod__leads__user=user).distinct().select_related("pod"):
        required = set(permissions.required_lead_functions(proposal.pod))
        mine = set(permissions.lead_functions_of(user, proposal.pod)) & required
        done = set(PodReview.objects.filter(proposal=proposal, review_round=proposal.review_round).values_list("function", flat=True))
        if mine - done:
            reviews.append(proposal)
    votes = []
    if permissions.is_council_member(user):
        voted = Vote.objects.filter(voter=user, item__vote_open=True).values("item_id")
        votes = list(
            AgendaItem.objects.filter(vote_open=True, proposal__state=ProposalState.COUNCIL_REVIEW)
            .exclude(id__in=voted).select_related("proposal", "meeting")
        )
    mine_to_fix = list(
        Proposal.objects.filter(Q(author=user) | Q(technical_lead=user),
                                state__in=[ProposalState.DRAFT, ProposalState.CHANGES_REQUESTED]).distinct()
    )
    escalations = list(Proposal.objects.filter(state=ProposalState.ESCALATED)) if permissions.is_chair(user) else []
    return {"reviews": reviews, "votes": votes, "drafts": mine_to_fix, "escalations": escalations}


def council_stats() -> dict:
    by_state = dict(Proposal.objects.values_list("state").annotate(n=Count("id")))
    by_pod: dict[str, dict[str, int]] = {}
    for pod, state, n in Proposal.objects.values_list("pod__name", "state").annotate(n=Count("id")):
        by_pod.setdefault(pod or "No pod", {})[state] = n
    decided = list(Proposal.objects.filter(state__in=[ProposalState.APPROVED, ProposalState.REJECTED],
                                           submitted_at__isnull=False, decided_at__isnull=False)
                   .values_list("state", "submitted_at", "decided_at"))
    days = [(d - s).total_seconds() / 86400 for _, s, d in decided]
    approved = sum(1 for st, _, _ in decided if st == ProposalState.APPROVED)
    return {
        "by_state": {s.value: by_state.get(s.value, 0) for s in ProposalState},
        "by_pod": by_pod,
        "median_days_to_decision": round(statistics.median(days), 1) if days else None,
        "approval_rate": round(100 * approved / len(decided)) if decided else None,
        "decided": len(decided),
    }
