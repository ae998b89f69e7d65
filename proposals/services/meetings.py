"""Writes for ML Review meetings: scheduling, the agenda, notes, attendance and the minutes.

Once a meeting's minutes are published nothing about it changes any more; the permission
functions say so, and each service here enforces them.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import DomainError
from portal.models import User
from portal.services import audit_record
from proposals import permissions
from proposals.models import AgendaItem, ItemKind, Meeting, MeetingState, MoveDirection, Proposal, ProposalState

S = ProposalState

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
def agenda_follow_up_add(*, title: str, notes: str = "", proposal: Proposal | None = None) -> AgendaItem:
    """A follow-up the portal itself puts on the next ML Review (an alert, a missed promise);
    the same title about the same proposal is on a meeting's agenda once."""
    meeting = _lock_meeting(meeting_next())
    title = title[:200]
    existing = meeting.items.filter(kind=ItemKind.FOLLOW_UP, title=title, proposal=proposal).first()
    if existing is not None:
        return existing
    item = AgendaItem.objects.create(meeting=meeting, position=_next_position(meeting), kind=ItemKind.FOLLOW_UP,
                                     title=title, proposal=proposal, notes=notes)
    audit_record(actor=None, verb="agenda.item_added", obj=meeting, data={"item": item.pk, "title": item.title})
    return item


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


def _lock_meeting(meeting: Meeting) -> Meeting:
    # Publishing locks the meeting too, so a change racing it either lands first or sees it published.
    return Meeting.objects.select_for_update().get(pk=meeting.pk)


@transaction.atomic
def agenda_item_add(*, meeting: Meeting, by: User, title: str, proposal: Proposal | None = None,
                    kind: str = ItemKind.OTHER, notes: str = "") -> AgendaItem:
    meeting = _lock_meeting(meeting)
    permissions.enforce_on_meeting(permissions.can_add_agenda_item(by, meeting), meeting)
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
    meeting = _lock_meeting(item.meeting)
    permissions.enforce_on_meeting(permissions.can_reorder_agenda(by, meeting), meeting)
    if direction not in MoveDirection.values:
        raise DomainError("direction must be up or down.")
    items = list(AgendaItem.objects.select_for_update().filter(meeting_id=item.meeting_id).order_by("position", "id"))
    index = next(i for i, it in enumerate(items) if it.pk == item.pk)
    target = index - 1 if direction == MoveDirection.UP else index + 1
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    for position, it in enumerate(items, start=1):
        if it.position != position:
            AgendaItem.objects.filter(pk=it.pk).update(position=position)
    audit_record(actor=by, verb="agenda.reordered", obj=meeting, data={"item": item.pk, "direction": direction})
    return AgendaItem.objects.get(pk=item.pk)


@transaction.atomic
def meeting_notes_update(*, meeting: Meeting, by: User, notes: str, item: AgendaItem | None = None) -> None:
    """Replace the notes on one agenda item, or the meeting's own notes when ``item`` is None."""
    meeting = _lock_meeting(meeting)
    permissions.enforce_on_meeting(permissions.can_take_notes(by, meeting), meeting)
    if item is not None:
        if item.meeting_id != meeting.pk:
            raise DomainError("That agenda item belongs to another meeting.")
        before = AgendaItem.objects.values_list("notes", flat=True).get(pk=item.pk)
        if before == notes:
            return
        AgendaItem.objects.filter(pk=item.pk).update(notes=notes)
        data = {"item": item.pk, "title": item.title, "before": before, "notes": notes}
    else:
        if meeting.notes == notes:
            return
        data = {"item": None, "before": meeting.notes, "notes": notes}
        Meeting.objects.filter(pk=meeting.pk).update(notes=notes)
    # The minutes quote these notes, so who wrote what before publication stays on record.
    audit_record(actor=by, verb="meeting.notes_updated", obj=meeting, data=data)


@transaction.atomic
def meeting_attendance_set(*, meeting: Meeting, by: User, present: Iterable[User]) -> None:
    meeting = _lock_meeting(meeting)
    permissions.enforce_on_meeting(permissions.can_record_attendance(by, meeting), meeting)
    before = set(meeting.attendees.values_list("username", flat=True))
    meeting.attendees.set(list(present))
    after = set(meeting.attendees.values_list("username", flat=True))
    audit_record(actor=by, verb="meeting.attendance_recorded", obj=meeting,
                 data={"present": sorted(after), "added": sorted(after - before), "removed": sorted(before - after)})


# --- minutes ------------------------------------------------------------------------------

@transaction.atomic
def minutes_publish(*, meeting: Meeting, by: User):
    """Publish the minutes and start the job that emails them. Open votes move to the next meeting."""
    meeting = _lock_meeting(meeting)
    permissions.enforce_on_meeting(permissions.can_publish_minutes(by, meeting), meeting)
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


