"""Email notifications: queued as rows, sent at most once per person and purpose."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.models import Notification, NotificationState, User

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
            last_error = f"{exc.__class__.__name__}: {exc}"
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
