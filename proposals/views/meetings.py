"""Pages for ML Review meetings: the list, a meeting with its agenda, notes and attendance, the
chair's changes to it, publishing the minutes, and the emails sent."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.selectors import council_member_list
from proposals import permissions, selectors, services
from proposals.forms import AgendaItemForm, AttendanceForm, NotesForm
from proposals.models import AgendaItem, ItemKind, Meeting, VoteChoice
from proposals.views._common import decorate_item, inline_context, inline_notices, mark_votes_on_old_revisions


def meeting_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.meeting_list().order_by("-scheduled_for"), 25).get_page(request.GET.get("page"))
    return render(request, "proposals/meeting_list.html", {"page": page, "upcoming": selectors.meeting_upcoming()})


def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = selectors.meeting_get(meeting_id=meeting_id)
    user = request.user
    items = [decorate_item(item, user) for item in meeting.items.all()]
    for item in items:
        if item.vote_open:
            item.may_close = permissions.can_close_vote(user, item.proposal)
    may = {
        "vote": permissions.can_vote(user),
        "decide": permissions.can_decide_escalation(user),
        "notes": permissions.can_take_notes(user, meeting),
        "attendance": permissions.can_record_attendance(user, meeting),
        "add_item": permissions.can_add_agenda_item(user, meeting),
        "reorder": permissions.can_reorder_agenda(user, meeting),
        "publish": permissions.can_publish_minutes(user, meeting),
    }
    base = {"meeting": meeting, "may": may, "vote_choices": VoteChoice.choices}
    if request.htmx and request.htmx.target and request.htmx.target.startswith("item-live-"):
        item = next((i for i in items if f"item-live-{i.pk}" == request.htmx.target), None)
        if item is None:
            return HttpResponse(status=404)
        mark_votes_on_old_revisions([item])
        return render(request, "proposals/meeting_detail.html#item-live", {**base, "item": item})
    mark_votes_on_old_revisions(items)
    found = inline_notices(request)
    shown = []
    for item in items:
        item.notices = found.get(f"item-{item.pk}", [])
        shown += item.notices
    members = list(council_member_list())
    attendees = {u.pk for u in meeting.attendees.all()}
    minutes_job = selectors.meeting_minutes_job(meeting=meeting) if meeting.is_published else None
    context = {
        **base,
        "items": items,
        "members": members,
        "attendees": attendees,
        "absent_attendees": [u for u in meeting.attendees.all() if u.pk not in {m.pk for m in members}],
        "item_form": AgendaItemForm(),
        "item_kinds": ItemKind.choices,
        "open_votes": any(i.vote_open for i in items),
        "minutes_job": minutes_job,
        "emails_sent": selectors.notification_list(meeting=meeting).count(),
        **inline_context(request, shown),
    }
    return render(request, "proposals/meeting_detail.html", context)


def _meeting_back(request: HttpRequest, meeting: Meeting, anchor: str = "") -> HttpResponse:
    return redirect(reverse("proposals:meeting_detail", args=[meeting.pk]) + (f"#{anchor}" if anchor else ""))


@require_POST
def meeting_notes_save(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = NotesForm(request.POST)
    form.is_valid()
    item = None
    item_id = form.cleaned_data.get("item")
    if item_id:
        item = get_object_or_404(AgendaItem, pk=item_id)
    try:
        services.meeting_notes_update(meeting=meeting, by=request.user, notes=form.cleaned_data.get("notes", ""), item=item)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Notes on “{item.title}” saved." if item else "Meeting notes saved.")
    return _meeting_back(request, meeting, f"item-{item.pk}" if item else "meeting-notes")


@require_POST
def meeting_item_add(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = AgendaItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the item a title or pick a proposal, and a kind.")
        return _meeting_back(request, meeting, "add-item")
    try:
        item = services.agenda_item_add(meeting=meeting, by=request.user, title=form.cleaned_data["title"],
                                        proposal=form.cleaned_data["proposal"], kind=form.cleaned_data["kind"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return _meeting_back(request, meeting, "add-item")
    messages.success(request, f"“{item.title}” added to the agenda.")
    return _meeting_back(request, meeting, f"item-{item.pk}")


@require_POST
def meeting_item_move(request: HttpRequest, meeting_id: int, item_id: int) -> HttpResponse:
    item = get_object_or_404(AgendaItem, pk=item_id, meeting_id=meeting_id)
    try:
        services.agenda_item_move(item=item, by=request.user, direction=request.POST.get("direction", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    return _meeting_back(request, item.meeting, f"item-{item.pk}")


@require_POST
def meeting_attendance_save(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick the members who are present.")
        return _meeting_back(request, meeting, "attendance")
    present = list(form.cleaned_data["present"])
    try:
        services.meeting_attendance_set(meeting=meeting, by=request.user, present=present)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Attendance recorded: {len(present)} present.")
    return _meeting_back(request, meeting, "attendance")


@require_POST
def meeting_minutes_publish(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    try:
        job = services.minutes_publish(meeting=meeting, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _meeting_back(request, meeting)
    messages.success(request, f"Minutes of {meeting} published. This job emails them to everyone interested.")
    return redirect("workers:job_detail", job_id=job.pk)


def notification_list(request: HttpRequest) -> HttpResponse:
    meeting = None
    meeting_id = request.GET.get("meeting", "")
    if meeting_id.isdigit():
        meeting = get_object_or_404(Meeting, pk=meeting_id)
    emails = selectors.notification_list(meeting=meeting)
    page = Paginator(emails, 25).get_page(request.GET.get("page"))
    meetings = {}
    ids = [n.object_id for n in page.object_list if n.object_type == "meeting" and n.object_id.isdigit()]
    if ids:
        meetings = selectors.meetings_by_id(ids=ids)
    for n in page.object_list:
        n.meeting = meetings.get(n.object_id) if n.object_type == "meeting" else None
    return render(request, "proposals/notification_list.html", {"page": page, "meeting": meeting})


for _view in (meeting_list, meeting_detail, meeting_notes_save, meeting_item_add, meeting_item_move,
              meeting_attendance_save, meeting_minutes_publish, notification_list):
    _view.nav_section = "council"


def notification_detail(request: HttpRequest, notification_id: int) -> HttpResponse:
    """One sent (or queued) email, as its recipient reads it."""
    email = selectors.notification_get(notification_id=notification_id)
    meeting = None
    if email.object_type == "meeting" and email.object_id.isdigit():
        meeting = selectors.meetings_by_id(ids=[email.object_id]).get(email.object_id)
    return render(request, "proposals/notification_detail.html", {"email": email, "meeting": meeting})
