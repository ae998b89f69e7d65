from __future__ import annotations

import statistics

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.lists import Sort
from portal.models import User
from proposals import permissions
from proposals.models import (
    AgendaItem, Meeting, MeetingState, PodReview, Proposal, ProposalRevision, ProposalState, Vote,
)


PROPOSAL_SORT = Sort({
    "title": ("title",),
    "kind": ("kind",),
    "pod": ("pod__name",),
    "state": ("state",),
    "lead": ("technical_lead__full_name", "technical_lead__username"),
    "updated": ("updated_at",),
}, default="-updated")


def _person_matches(prefix: str, text: str) -> Q:
    return Q(**{f"{prefix}__full_name__icontains": text}) | Q(**{f"{prefix}__username__icontains": text})


def proposal_list(*, state: str | None = None, pod: str | None = None, kind: str | None = None,
                  q: str | None = None, mine: bool = False, sort: str | None = None,
                  user: User | None = None) -> QuerySet[Proposal]:
    """Proposals, most recently updated first unless ``sort`` (a ``PROPOSAL_SORT`` key) says otherwise.

    ``q`` finds words of the title, problem, solution or success metric, and people: the author,
    the technical lead and team members, by name or username. ``mine`` keeps the proposals ``user``
    wrote, leads, is on the team of or watches."""
    qs = Proposal.objects.select_related("pod", "author", "technical_lead").prefetch_related(
        "team_members__user", "watchers"
    )
    if state:
        qs = qs.filter(state=state)
    if pod:
        qs = qs.filter(pod__name__iexact=pod)
    if kind:
        qs = qs.filter(kind=kind)
    if mine and user is not None and user.is_authenticated:
        # Through a subquery: joining the team and watchers directly would repeat rows.
        qs = qs.filter(pk__in=Proposal.objects.filter(
            Q(author=user) | Q(technical_lead=user) | Q(team_members__user=user) | Q(watchers=user)).values("pk"))
    text = (q or "").strip()
    if text:
        people = Proposal.objects.filter(
            _person_matches("author", text) | _person_matches("technical_lead", text)
            | _person_matches("team_members__user", text)).values("pk")
        qs = qs.filter(Q(pk__in=Proposal.objects.search(text).values("pk")) | Q(success_metric_name__icontains=text)
                       | Q(pk__in=people))
    if sort:
        qs = qs.order_by(*PROPOSAL_SORT.order_by(sort))
    return qs


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
    return (Meeting.objects.annotate(item_count=Count("items")).select_related("minutes_published_by")
            .prefetch_related("attendees"))


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
    in_review = list(Proposal.objects.filter(state=ProposalState.POD_REVIEW, pod__leads__user=user).distinct()
                     .select_related("pod"))
    owed = permissions.pod_review_functions_owed_many(user, in_review)
    reviews = [proposal for proposal in in_review if owed.get(proposal.pk)]
    votes = []
    if permissions.is_council_member(user):
        voted = Vote.objects.counting().filter(voter=user, item__vote_open=True).values("item_id")
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


def pod_names() -> list[str]:
    from portal.models import Pod

    return list(Pod.objects.order_by("name").values_list("name", flat=True))


def pod_leads_by_function(*, pod, functions) -> dict[str, User]:
    from portal.models import PodLead

    return {lead.function: lead.user for lead in PodLead.objects.active().filter(pod=pod, function__in=functions).select_related("user")}


def vote_item_list(*, proposal: Proposal) -> list[AgendaItem]:
    """The proposal's council votes (not escalation items), oldest meeting first, with ballots."""
    from proposals.models import ItemKind

    return list(proposal.agenda_items.exclude(kind=ItemKind.ESCALATION).select_related("meeting")
                .prefetch_related("votes__voter").order_by("meeting__scheduled_for", "position"))


def meeting_recent_published(*, limit: int = 3) -> list[Meeting]:
    return list(Meeting.objects.filter(state=MeetingState.MINUTES_PUBLISHED).order_by("-scheduled_for")[:limit]
                .prefetch_related("items__proposal"))


def meeting_minutes_job(*, meeting: Meeting):
    """The latest job that emailed this meeting's minutes, or None."""
    from workers.selectors import job_list

    return job_list(kind="minutes_send").filter(object_type="meeting", object_id=str(meeting.pk)).order_by("-id").first()


def notification_list(*, meeting: Meeting | None = None):
    from portal.models import Notification

    emails = Notification.objects.select_related("recipient")
    if meeting is not None:
        emails = emails.filter(object_type="meeting", object_id=str(meeting.pk))
    return emails


def notification_get(*, notification_id: int):
    from portal.models import Notification

    return get_object_or_404(Notification.objects.select_related("recipient"), pk=notification_id)


def meetings_by_id(*, ids) -> dict[str, Meeting]:
    return {str(m.pk): m for m in Meeting.objects.filter(pk__in=list(ids))}


# --- the home page -------------------------------------------------------------------------------

def owed_count(*, user: User) -> int:
    """How many things wait for this person: reviews, votes, drafts and changes, escalations."""
    if not (user and user.is_authenticated):
        return 0
    return sum(len(entries) for entries in my_queue(user=user).values())


def _waiting_for(proposals: list[Proposal], user: User) -> dict[int, str]:
    """What each proposal waits for, in words."""
    from portal.models import LEAD_FUNCTIONS, Function, PodLead

    in_review = [p for p in proposals if p.state == ProposalState.POD_REVIEW]
    pods = {p.pod_id for p in in_review if p.pod_id}
    leads = list(PodLead.objects.active().filter(pod_id__in=pods, function__in=LEAD_FUNCTIONS)
                 .values_list("pod_id", "function", "user__full_name", "user__username"))
    done: dict[tuple[int, int], set[str]] = {}
    for proposal_id, round_, function in PodReview.objects.filter(proposal__in=in_review).values_list(
            "proposal_id", "review_round", "function"):
        done.setdefault((proposal_id, round_), set()).add(function)
    votes = {item.proposal_id: item for item in AgendaItem.objects.filter(
        proposal__in=[p for p in proposals if p.state == ProposalState.COUNCIL_REVIEW], vote_open=True)
        .select_related("meeting")}
    labels = dict(Function.choices)
    words = {}
    for p in proposals:
        mine = user.pk in (p.author_id, p.technical_lead_id)
        if p.state == ProposalState.DRAFT:
            words[p.pk] = "You: finish and submit it." if mine else "Its author to submit it."
        elif p.state == ProposalState.CHANGES_REQUESTED:
            words[p.pk] = "You: make the changes asked for and resubmit." if mine else "Changes from its author."
        elif p.state == ProposalState.POD_REVIEW:
            order = [f.value for f in LEAD_FUNCTIONS]
            missing = [f"{labels.get(f, f)} lead ({name or username})" for pod, f, name, username
                       in sorted(leads, key=lambda lead: order.index(lead[1]))
                       if pod == p.pod_id and f not in done.get((p.pk, p.review_round), set())]
            words[p.pk] = ("Reviews from " + ", ".join(missing) + ".") if missing else "The last pod review."
        elif p.state == ProposalState.COUNCIL_REVIEW:
            item = votes.get(p.pk)
            words[p.pk] = (f"The ML Council's vote at the ML Review of {item.meeting.scheduled_for:%-d %B}."
                           if item else "A place on the next ML Review's agenda.")
        elif p.state == ProposalState.ESCALATED:
            words[p.pk] = "The Council chair's decision."
        elif p.state == ProposalState.APPROVED:
            words[p.pk] = "Nothing: approved. Its ML project is open."
        else:
            words[p.pk] = "Nothing: decided."
    return words


def my_proposals(*, user: User, limit: int = 8) -> list[tuple[Proposal, str]]:
    """The proposals this person wrote, leads or is on the team of, newest first, with what each waits for."""
    ids = (Proposal.objects.filter(Q(author=user) | Q(technical_lead=user) | Q(team_members__user=user))
           .values("pk"))
    proposals = list(Proposal.objects.filter(pk__in=ids).exclude(state=ProposalState.WITHDRAWN)
                     .select_related("pod").order_by("-updated_at", "-id")[:limit])
    waiting = _waiting_for(proposals, user)
    return [(p, waiting[p.pk]) for p in proposals]


def meeting_items_for(*, meeting: Meeting | None, user: User) -> list[AgendaItem]:
    """The items of a meeting that concern this person: all of them for Council members, otherwise
    the ones about proposals they wrote, lead, are on the team of or watch."""
    if meeting is None:
        return []
    items = meeting.items.select_related("proposal").order_by("position", "id")
    if permissions.is_council_member(user):
        return list(items)
    return list(items.filter(Q(proposal__author=user) | Q(proposal__technical_lead=user)
                             | Q(proposal__team_members__user=user) | Q(proposal__watchers=user)).distinct())


def decisions_recent(*, limit: int = 5) -> list[Proposal]:
    return list(Proposal.objects.filter(state__in=[ProposalState.APPROVED, ProposalState.REJECTED],
                                        decided_at__isnull=False).select_related("pod").order_by("-decided_at")[:limit])


# --- votes on earlier revisions ------------------------------------------------------------------

def revision_history(*, proposal_ids) -> dict[int, list[tuple[int, object]]]:
    """Each proposal's revisions as (number, created_at), oldest first, in one query."""
    history: dict[int, list[tuple[int, object]]] = {}
    for proposal_id, number, created_at in ProposalRevision.objects.filter(proposal_id__in=list(proposal_ids)).order_by(
            "number").values_list("proposal_id", "number", "created_at"):
        history.setdefault(proposal_id, []).append((number, created_at))
    return history


def open_duties_of(user: User) -> list:
    """The proposals' duties ``user`` holds, active or not (``portal.duties``): the pod reviews of
    this round they owe as a pod lead, the open proposals they lead technically, and the open
    Council votes they have not cast while on the Council."""
    from django.urls import reverse

    from portal.duties import Duty
    from portal.models import LEAD_FUNCTIONS, CouncilMembership, Function, PodLead

    labels = dict(Function.choices)
    duties = []
    mine = list(PodLead.objects.filter(user=user, function__in=LEAD_FUNCTIONS).values_list("pod_id", "function"))
    if mine:
        in_review = list(Proposal.objects.filter(state=ProposalState.POD_REVIEW, pod_id__in={p for p, _ in mine})
                         .order_by("title", "id"))
        done: dict[int, set[str]] = {}
        for proposal_id, round_, function in PodReview.objects.filter(proposal__in=in_review).values_list(
                "proposal_id", "review_round", "function"):
            done.setdefault((proposal_id, round_), set()).add(function)
        for proposal in in_review:
            owed = [f for p, f in mine if p == proposal.pod_id and f not in done.get((proposal.pk, proposal.review_round), set())]
            if owed:
                duties.append(Duty("pod_review", "Pod review owed", proposal.title,
                                   reverse("proposals:detail", args=[proposal.pk]),
                                   "as " + ", ".join(labels.get(f, f) for f in owed) + " lead"))
    for proposal in Proposal.objects.open().filter(technical_lead=user).order_by("title", "id"):
        duties.append(Duty("technical_lead", "Technical lead", proposal.title,
                           reverse("proposals:detail", args=[proposal.pk]), proposal.get_state_display()))
    if CouncilMembership.objects.active_on().filter(user=user).exists():
        voted = Vote.objects.counting().filter(voter=user, item__vote_open=True).values("item_id")
        for item in (AgendaItem.objects.filter(vote_open=True, proposal__state=ProposalState.COUNCIL_REVIEW)
                     .exclude(id__in=voted).select_related("proposal", "meeting").order_by("meeting__scheduled_for", "position")):
            duties.append(Duty("vote", "Council vote open", item.proposal.title,
                               reverse("proposals:detail", args=[item.proposal_id]), f"at {item.meeting}"))
    return duties


def reviews_reset_reason(*, proposal: Proposal, open_item: AgendaItem | None = None) -> str:
    """Why the reviews or votes of the current step started again, while that step lasts: the
    material amendment that reset them (``proposal.reviews_reset``), in words. Empty otherwise."""
    from portal.models import AuditEvent

    if proposal.state not in (ProposalState.POD_REVIEW, ProposalState.COUNCIL_REVIEW):
        return ""
    event = (AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk), verb="proposal.reviews_reset")
             .order_by("-created_at", "-id").first())
    if event is None:
        return ""
    data = event.data or {}
    current = (proposal.state == ProposalState.POD_REVIEW and data.get("reset") == "pod_reviews"
               and data.get("round") == proposal.review_round) or (
        proposal.state == ProposalState.COUNCIL_REVIEW and data.get("reset") == "votes"
        and open_item is not None and data.get("item") == open_item.pk)
    if not current:
        return ""
    from proposals.history import reviews_reset

    who = event.actor.display_name if event.actor_id else "The portal"
    return f"{reviews_reset({'data': data})}. {who} changed it on {timezone.localtime(event.created_at):%-d %B at %H:%M}."
