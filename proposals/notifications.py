"""Who is told what when a proposal moves: the pod leads whose review it waits for, the Council
members whose vote it waits for, its author, technical lead and team at every change of state
(with what happens next, in words), and its watchers when it is decided.

The services call these inside their transaction, after the audit event: the in-app notifications
commit with the change, and their emails go out after commit (``portal.notifications.notify``).
Each notification's key names the event (the audit event, the review round, the agenda item), so
the same event never notifies anyone twice. Nobody is told about what they did themselves.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import dateformat, timezone

from portal.models import LEAD_FUNCTIONS, AuditEvent, NotificationKind, PodLead, User
from portal.notifications import notifications_settle, notify
from portal.selectors import chair_term_current, council_member_list
from proposals.models import AgendaItem, ChangesRequestedBy, Proposal, ProposalKind, ProposalState

S = ProposalState

# The decisions a proposal's watchers are told about.
WATCHED_DECISIONS = (S.APPROVED, S.REJECTED, S.ESCALATED)


def _url(proposal: Proposal) -> str:
    return reverse("proposals:detail", args=[proposal.pk])


def _day(when) -> str:
    return dateformat.format(timezone.localtime(when), "j F")


def _meeting_phrase(proposal: Proposal) -> str:
    item = (AgendaItem.objects.filter(proposal=proposal, vote_open=True).select_related("meeting")
            .order_by("-id").first())
    if item is None:
        return "the next ML Review"
    return f"the ML Review of {_day(item.meeting.scheduled_for)}"


def _names(users) -> str:
    names = [u.display_name for u in users]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _pod_reviewers(proposal: Proposal) -> list[User]:
    leads = (PodLead.objects.active().filter(pod_id=proposal.pod_id, function__in=LEAD_FUNCTIONS)
             .select_related("user").order_by("function"))
    people: dict[int, User] = {}
    for lead in leads:
        people.setdefault(lead.user_id, lead.user)
    return list(people.values())


def what_happens_next(proposal: Proposal) -> str:
    """The proposal's next step, in words, as its author reads it."""
    state = proposal.state
    if state == S.POD_REVIEW:
        pod = proposal.pod.name if proposal.pod_id else "its"
        return (f"The {pod} pod's leads review it: {_names(_pod_reviewers(proposal))}. "
                "When they all approve, it goes to the ML Council.")
    if state == S.COUNCIL_REVIEW:
        return f"It is on the agenda of {_meeting_phrase(proposal)}, where the ML Council votes on it."
    if state == S.CHANGES_REQUESTED:
        who = "the pod's leads" if proposal.changes_requested_by == ChangesRequestedBy.POD else "the ML Council"
        note = f" They said: “{proposal.decision_note.strip()}”" if proposal.decision_note.strip() else ""
        return f"Amend it and submit it again; it then goes back to {who}.{note}"
    if state == S.ESCALATED:
        chair = chair_term_current()
        who = f"the chair, {chair.user.display_name}," if chair else "the chair"
        return f"The Council's vote was split: {who} decides it, at the latest at the next ML Review."
    if state == S.APPROVED:
        if proposal.kind == ProposalKind.ML_APPLICATION:
            return ("Its ML project is being created in the registry; the team trains, deploys and monitors its "
                    "models there.")
        return "It is decided: the team can go ahead."
    if state == S.REJECTED:
        note = f" The reason: “{proposal.decision_note.strip()}”" if proposal.decision_note.strip() else ""
        return f"It is closed.{note}"
    if state == S.WITHDRAWN:
        return "It is closed; nothing more happens to it."
    return ""


_TITLES = {
    S.POD_REVIEW: "“{t}” is in pod review",
    S.COUNCIL_REVIEW: "“{t}” goes to the ML Council",
    S.CHANGES_REQUESTED: "Changes requested on “{t}”",
    S.ESCALATED: "“{t}” is escalated to the chair",
    S.APPROVED: "“{t}” is approved",
    S.REJECTED: "“{t}” is rejected",
    S.WITHDRAWN: "“{t}” is withdrawn",
}


def _people_of(proposal: Proposal) -> list[User]:
    """The author, the technical lead and the team: the people whose proposal it is."""
    people: dict[int, User] = {proposal.author_id: proposal.author}
    if proposal.technical_lead_id:
        people.setdefault(proposal.technical_lead_id, proposal.technical_lead)
    for user in User.objects.filter(proposal_teams=proposal):
        people.setdefault(user.pk, user)
    return list(people.values())


def _not_the_actor(people, actor: User | None) -> list[User]:
    return [u for u in people if actor is None or u.pk != actor.pk]


def proposal_state_changed(*, proposal: Proposal, event: AuditEvent, actor: User | None) -> None:
    """Tell the proposal's people it changed state, and its watchers when it was decided."""
    template = _TITLES.get(proposal.state)
    if template is None:
        return
    title = template.format(t=proposal.title)
    body = what_happens_next(proposal)
    if proposal.state == S.APPROVED and event.verb == "chair.decided":
        body = f"The chair decided it. {body}"
    key = f"proposal:{proposal.pk}:event:{event.pk}"
    owners = _not_the_actor(_people_of(proposal), actor)
    for user in owners:
        notify(user=user, kind=NotificationKind.PROPOSAL_STATE, title=title, body=body, url=_url(proposal),
               dedupe_key=key, obj=proposal)
    if proposal.state not in WATCHED_DECISIONS:
        return
    told = {u.pk for u in owners} | ({actor.pk} if actor is not None else set())
    for watcher in proposal.watchers.exclude(pk__in=told):
        notify(user=watcher, kind=NotificationKind.WATCHED_DECISION, title=title, body=body, url=_url(proposal),
               dedupe_key=key, obj=proposal)


def proposal_review_owed(*, proposal: Proposal) -> None:
    """Tell each required pod lead that this round of the proposal waits for their review."""
    pod = proposal.pod.name if proposal.pod_id else "your"
    for user in _pod_reviewers(proposal):
        notify(user=user, kind=NotificationKind.REVIEW_OWED, title=f"Your review: “{proposal.title}”",
               body=f"{proposal.author.display_name} submitted it for the {pod} pod. It goes to the ML Council "
                    "when every lead approves; request changes or reject it with a comment.",
               url=_url(proposal), dedupe_key=f"proposal:{proposal.pk}:review_owed:round{proposal.review_round}",
               obj=proposal)


def owed_done(*, proposal: Proposal, by: User) -> None:
    """``by`` gave their review or cast their vote: what asked them for it no longer waits."""
    for what in ("review_owed", "vote_owed"):
        notifications_settle(dedupe_prefix=f"proposal:{proposal.pk}:{what}:", user=by)


def owed_moot(*, proposal: Proposal) -> None:
    """The proposal changed state: the reviews and votes it asked for before are no longer owed by
    anyone (a new round or a new vote asks again)."""
    for what in ("review_owed", "vote_owed"):
        notifications_settle(dedupe_prefix=f"proposal:{proposal.pk}:{what}:")


def proposal_vote_owed(*, proposal: Proposal, item: AgendaItem) -> None:
    """Tell each Council member that the proposal's vote (one agenda item) waits for them."""
    when = f"the ML Review of {_day(item.meeting.scheduled_for)}"
    for member in council_member_list():
        notify(user=member, kind=NotificationKind.VOTE_OWED, title=f"Your vote: “{proposal.title}”",
               body=f"It is on the agenda of {when}. Vote before or at the meeting; the vote closes when every "
                    "member has voted or the chair closes it.",
               url=_url(proposal), dedupe_key=f"proposal:{proposal.pk}:vote_owed:item{item.pk}", obj=proposal)


def proposal_votes_reset(*, proposal: Proposal, item: AgendaItem, voters: list[User], revision: int) -> None:
    """Tell each member whose ballot a material amendment reset that their vote is owed again."""
    when = f"the ML Review of {_day(item.meeting.scheduled_for)}"
    for member in voters:
        notify(user=member, kind=NotificationKind.VOTE_OWED, title=f"Vote again: “{proposal.title}”",
               body=f"It changed materially (revision {revision}) after you voted, so your vote no longer counts. "
                    f"Vote again on what it says now, before or at {when}.",
               url=_url(proposal), dedupe_key=f"proposal:{proposal.pk}:vote_owed:item{item.pk}:rev{revision}",
               obj=proposal)


def proposal_moved_to_next_review(*, proposal: Proposal, event: AuditEvent) -> None:
    """The vote had no quorum: the proposal's people learn it waits for the next ML Review."""
    title = f"“{proposal.title}” moves to the next ML Review"
    body = f"The vote had no quorum. {what_happens_next(proposal)}"
    for user in _people_of(proposal):
        notify(user=user, kind=NotificationKind.PROPOSAL_STATE, title=title, body=body, url=_url(proposal),
               dedupe_key=f"proposal:{proposal.pk}:event:{event.pk}", obj=proposal)
