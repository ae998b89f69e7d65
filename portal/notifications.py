"""Notifications: the email outbox (rows sent at most once per person and purpose), and what a
person sees under the bell, emailed at once or in a daily digest as they chose per kind.

``notify`` is the one entry point for the events people are told about: it records the in-app
notification once per person and event, and emails it through the outbox after commit when the
person wants email for that kind. ``digest_send`` (the daily ``notifications_digest`` job) sends each
person who chose the digest one email listing what they have not read yet.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.models import (
    DEFAULT_CHANNELS,
    InAppNotification,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationPreference,
    NotificationState,
    User,
)
from portal.redact import redact

logger = logging.getLogger(__name__)


def notification_queue(*, email: str, subject: str, body_text: str, body_html: str = "", dedupe_key: str,
                       recipient: User | None = None, obj=None) -> tuple[Notification, bool]:
    """Queue an email unless one with the same dedupe key exists. Returns (row, created)."""
    existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient=recipient, email=email, subject=subject[:300], body_text=body_text, body_html=body_html,
                dedupe_key=dedupe_key[:200],
                object_type=obj._meta.model_name if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
            ), True
    except IntegrityError:
        return Notification.objects.get(dedupe_key=dedupe_key), False


def notification_send(*, notification: Notification, attempts: int | None = None, backoff: float = 0.5) -> bool:
    """Send one queued email, retrying; a sent one is never sent again."""
    attempts = attempts or settings.EMAIL_SEND_ATTEMPTS
    with transaction.atomic():
        row = Notification.objects.select_for_update().get(pk=notification.pk)
        if row.state == NotificationState.SENT:
            return True
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            message = EmailMultiAlternatives(row.subject, row.body_text, settings.DEFAULT_FROM_EMAIL, [row.email])
            if row.body_html:
                message.attach_alternative(row.body_html, "text/html")
            message.send(fail_silently=False)
        except Exception as exc:  # the relay's refusal is recorded, then retried
            last_error = redact(f"{exc.__class__.__name__}: {exc}")
            logger.warning("sending %s to %s failed (attempt %s): %s", row.subject, row.email, attempt, last_error)
            Notification.objects.filter(pk=row.pk).update(attempts=row.attempts + attempt, last_error=last_error)
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
            continue
        Notification.objects.filter(pk=row.pk).update(
            state=NotificationState.SENT, sent_at=timezone.now(), attempts=row.attempts + attempt, last_error=""
        )
        return True
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.FAILED, last_error=last_error)
    return False


# --- in-app notifications --------------------------------------------------------------------

def absolute_url(url: str) -> str:
    return settings.PORTAL_URL.rstrip("/") + url if url.startswith("/") else url


def notification_channel(*, user: User, kind: str) -> str:
    """How ``user`` wants ``kind``: their choice, else the kind's default (``DEFAULT_CHANNELS``)."""
    chosen = NotificationPreference.objects.filter(user=user, kind=kind).values_list("channel", flat=True).first()
    return chosen or DEFAULT_CHANNELS[kind]


def _outbox_key(row: InAppNotification) -> str:
    key = f"notify:{row.recipient_id}:{row.dedupe_key}"
    if len(key) <= 200:
        return key
    return f"notify:{row.recipient_id}:{hashlib.sha256(row.dedupe_key.encode()).hexdigest()}"


def notify(*, user: User | None, kind: str, title: str, url: str, dedupe_key: str, body: str = "",
           obj: models.Model | None = None, email_subject: str = "", email_text: str = "",
           email_html: str = "") -> InAppNotification | None:
    """Tell ``user`` about one event, once: the in-app notification always, and an email (after
    commit) or a line in tomorrow's digest when they chose so for ``kind``.

    ``dedupe_key`` names the event (``proposal:7:review_owed:round2``): calling this again for the
    same person and event does nothing and returns the row already there. People without an email
    address or no longer active get the in-app notification only. ``email_*`` replace the standard
    email (title, body and a link) where a kind has its own.
    """
    if user is None:
        return None
    kind = NotificationKind(kind)
    channel = notification_channel(user=user, kind=kind)
    if channel != NotificationChannel.IN_APP and not (user.is_active and user.email):
        channel = NotificationChannel.IN_APP
    dedupe_key = dedupe_key[:200]
    existing = InAppNotification.objects.filter(recipient=user, dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            row = InAppNotification.objects.create(
                recipient=user, kind=kind, title=title[:300], body=body, url=url[:500], dedupe_key=dedupe_key,
                channel=channel, object_type=obj._meta.model_name if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
            )
    except IntegrityError:  # the same event notified at the same moment by another process
        return InAppNotification.objects.get(recipient=user, dedupe_key=dedupe_key)
    if channel == NotificationChannel.EMAIL:
        subject = email_subject or title
        context = {"notification": row, "url": absolute_url(row.url),
                   "preferences_url": absolute_url(reverse("notification_preferences"))}
        text = email_text or render_to_string("portal/email/notification.txt", context)
        html = email_html or render_to_string("portal/email/notification.html", context)
        transaction.on_commit(lambda: _email_now(row, subject=subject, text=text, html=html, obj=obj))
    return row


def _email_now(row: InAppNotification, *, subject: str, text: str, html: str, obj: models.Model | None) -> None:
    """Queue and send one notification's email (about the event's object, as the Sent emails page
    shows it); a refusal leaves it queued for the digest job's retry."""
    email = row.recipient.email
    outbox, _ = notification_queue(email=email, recipient=row.recipient, subject=subject, body_text=text,
                                   body_html=html, dedupe_key=_outbox_key(row), obj=obj)
    try:
        notification_send(notification=outbox, attempts=2, backoff=0.2)
    except Exception:  # the person still has it under the bell; the digest job retries the email
        logger.warning("notification %s: email to %s not sent", row.pk, email, exc_info=True)


# --- reading and preferences -----------------------------------------------------------------

def notification_open(*, user: User, notification_id: int) -> InAppNotification:
    """Mark one of ``user``'s notifications read and return it (to redirect to its page).
    Someone else's notification is not found."""
    row = InAppNotification.objects.get(pk=notification_id, recipient=user)
    if row.read_at is None:
        row.read_at = timezone.now()
        InAppNotification.objects.filter(pk=row.pk, read_at__isnull=True).update(read_at=row.read_at)
    return row


def notifications_settle(*, dedupe_prefix: str, user: User | None = None) -> int:
    """Work a notification asked for is done or no longer asked for (the review was given, the vote
    closed): its unread notifications (``user``'s, or everyone's) are marked read, so the bell
    counts only what still waits. They stay listed. Returns how many."""
    rows = InAppNotification.objects.unread().filter(dedupe_key__startswith=dedupe_prefix)
    if user is not None:
        rows = rows.filter(recipient=user)
    return rows.update(read_at=timezone.now())


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark ``user``'s unread notifications read (all, or those of ``ids``); returns how many."""
    rows = InAppNotification.objects.for_user(user).unread()
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


@transaction.atomic
def notification_preferences_set(*, user: User, channels: dict[str, str]) -> dict[str, str]:
    """Set how ``user`` wants each kind (``{"alert": "digest", ...}``); kinds left out keep theirs.
    A choice equal to the default is stored too, so a later change of defaults does not move it."""
    from portal.errors import DomainError
    from portal.services import audit_record

    for kind, channel in channels.items():
        if kind not in NotificationKind.values:
            raise DomainError(f"There is no notification kind {kind!r}; kinds are "
                              f"{', '.join(NotificationKind.values)}.", field="kind")
        if channel not in NotificationChannel.values:
            raise DomainError(f"Choose in_app, email or digest for {NotificationKind(kind).label.lower()}, "
                              f"not {channel!r}.", field=kind)
    before = {p.kind: p.channel for p in NotificationPreference.objects.filter(user=user)}
    changed = {}
    for kind, channel in channels.items():
        if before.get(kind) != channel:
            NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"channel": channel})
        if before.get(kind, DEFAULT_CHANNELS[kind]) != channel:
            changed[kind] = channel
    if changed:
        audit_record(actor=user, verb="notifications.preferences_changed", obj=user, data={"channels": changed})
    return {kind: channels.get(kind, before.get(kind, DEFAULT_CHANNELS[kind])) for kind in NotificationKind.values}


# --- the daily digest ------------------------------------------------------------------------

def digest_send(*, now=None) -> dict[str, int]:
    """Email each person who chose the digest for some kind one list of what they have not read
    since their last digest. At most one digest per person a day: a second run the same day
    leaves new rows for tomorrow's. Also retries notification emails the relay refused earlier."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    sent = skipped = 0
    people = (InAppNotification.objects.filter(channel=NotificationChannel.DIGEST, digested_at__isnull=True,
                                               created_at__lte=now)
              .values_list("recipient_id", flat=True).distinct())
    for user in User.objects.filter(pk__in=list(people)).order_by("pk"):
        key = f"digest:{user.pk}:{day.isoformat()}"
        earlier = Notification.objects.filter(dedupe_key=key).first()
        if earlier is not None:
            if earlier.state != NotificationState.SENT and notification_send(notification=earlier, attempts=2):
                sent += 1
            continue
        with transaction.atomic():
            rows = list(InAppNotification.objects.select_for_update().filter(
                recipient=user, channel=NotificationChannel.DIGEST, digested_at__isnull=True, created_at__lte=now,
            ).order_by("created_at", "id"))
            unread = [r for r in rows if r.read_at is None]
            outbox = None
            if unread and user.is_active and user.email:
                context = {"user": user, "day": day, "notifications": [(r, absolute_url(reverse(
                    "notification_open", args=[r.pk]))) for r in unread],
                    "inbox_url": absolute_url(reverse("notifications")),
                    "preferences_url": absolute_url(reverse("notification_preferences"))}
                count = len(unread)
                outbox, _ = notification_queue(
                    email=user.email, recipient=user, dedupe_key=key,
                    subject=f"Your daily digest: {count} notification{'s' if count != 1 else ''}",
                    body_text=render_to_string("portal/email/digest.txt", context),
                    body_html=render_to_string("portal/email/digest.html", context),
                )
            else:
                skipped += 1
            InAppNotification.objects.filter(pk__in=[r.pk for r in rows]).update(digested_at=now)
        if outbox is not None and notification_send(notification=outbox, attempts=2):
            sent += 1
    retried = 0
    for row in Notification.objects.filter(dedupe_key__startswith="notify:", state__in=[
            NotificationState.PENDING, NotificationState.FAILED], created_at__gte=now - timedelta(days=2)):
        retried += notification_send(notification=row, attempts=1)
    return {"digests_sent": sent, "nothing_unread": skipped, "emails_retried": retried}


def digest_run(job) -> dict[str, int]:
    """Job handler (``notifications_digest``, daily)."""
    job.progress(5, "Collecting what people chose to get in a digest")
    result = digest_send()
    job.log(f"{result['digests_sent']} digest(s) sent; {result['nothing_unread']} person(s) had read everything; "
            f"{result['emails_retried']} earlier email(s) sent on retry.")
    return result
