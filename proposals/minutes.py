"""The minutes of an ML Review: who receives them, what they say, and the job that sends them."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string

from portal.models import PodLead, User
from portal.notifications import notification_queue, notification_send
from portal.selectors import council_member_list
from proposals.models import Meeting


def minutes_recipients(meeting: Meeting) -> dict[str, User | None]:
    """Everyone interested, by lower-cased email: council members, and for each item's proposal its
    author, technical lead, pod leads and watchers, plus the configured mailing list."""
    people: dict[str, User | None] = {}

    def add(user: User | None):
        if user is not None and user.is_active and user.email:
            people.setdefault(user.email.lower(), user)

    for member in council_member_list():
        add(member)
    for item in meeting.items.select_related("proposal__author", "proposal__technical_lead", "proposal__pod"):
        proposal = item.proposal
        if proposal is None:
            continue
        add(proposal.author)
        add(proposal.technical_lead)
        for lead in PodLead.objects.active().filter(pod_id=proposal.pod_id).select_related("user"):
            add(lead.user)
        for watcher in proposal.watchers.all():
            add(watcher)
    for address in settings.MINUTES_MAILING_LIST:
        people.setdefault(address.strip().lower(), None)
    return people


def minutes_context(meeting: Meeting) -> dict:
    items = list(meeting.items.select_related("proposal", "proposal__pod").prefetch_related("votes__voter").order_by("position", "id"))
    return {
        "meeting": meeting,
        "items": items,
        "attendees": list(meeting.attendees.order_by("full_name")),
        "portal_url": settings.PORTAL_URL.rstrip("/"),
    }


def minutes_render(meeting: Meeting) -> tuple[str, str, str]:
    context = minutes_context(meeting)
    subject = f"Minutes: {meeting}"
    return (
        subject,
        render_to_string("proposals/email/minutes.txt", context),
        render_to_string("proposals/email/minutes.html", context),
    )


def minutes_send_run(job) -> dict:
    """Job handler: email the minutes to everyone interested, each person once, ever."""
    meeting = Meeting.objects.get(pk=job.params["meeting_id"])
    subject, text, html = minutes_render(meeting)
    recipients = minutes_recipients(meeting)
    job.progress(5, f"Sending to {len(recipients)} people")
    rows = []
    for email, user in sorted(recipients.items()):
        row, _ = notification_queue(
            email=email, recipient=user, subject=subject, body_text=text, body_html=html,
            dedupe_key=f"minutes:{meeting.pk}:{email}", obj=meeting,
        )
        rows.append(row)
    sent, failed = 0, []
    for index, row in enumerate(rows, start=1):
        if notification_send(notification=row):
            sent += 1
        else:
            failed.append(row.email)
        job.progress(5 + 95 * index / max(1, len(rows)), f"{index} of {len(rows)} handled")
    job.log(f"Minutes sent to {sent} of {len(rows)} people.")
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(rows)} emails could not be sent ({', '.join(failed)}); run the sending again "
            "to retry them: people already emailed are not emailed twice."
        )
    return {"recipients": len(rows), "sent": sent}
