from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from portal.models import (
    DEFAULT_CHANNELS,
    AuditEvent,
    ChairTerm,
    CouncilMembership,
    InAppNotification,
    NotificationKind,
    NotificationPreference,
    User,
)


def audit_event_list(*, object_type: str | None = None, object_id: str | int | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor").order_by("created_at", "id")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id not in (None, ""):
        qs = qs.filter(object_id=str(object_id))
    return qs


def audit_events_for(obj) -> QuerySet[AuditEvent]:
    return audit_event_list(object_type=obj._meta.model_name, object_id=obj.pk)


def council_member_list(*, day=None) -> QuerySet[User]:
    ids = CouncilMembership.objects.active_on(day).values("user_id")
    return User.objects.filter(id__in=ids, is_active=True).order_by("full_name", "username")


def chair_term_current(*, day=None) -> ChairTerm | None:
    # A chair handed over on the day it began leaves two terms starting that day: the later one holds.
    return ChairTerm.objects.active_on(day or timezone.localdate()).select_related("user").order_by("-start_date", "-id").first()


def inbox_list(*, user: User) -> QuerySet[InAppNotification]:
    """``user``'s notifications, newest first."""
    return InAppNotification.objects.for_user(user).order_by("-created_at", "-id")


def inbox_unread_count(*, user: User) -> int:
    return InAppNotification.objects.for_user(user).unread().count()


def notification_preferences_for(*, user: User) -> dict[str, str]:
    """How ``user`` gets each kind, their choice or the default, in the kinds' order."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "channel"))
    return {kind: chosen.get(kind, DEFAULT_CHANNELS[kind]) for kind in NotificationKind.values}
