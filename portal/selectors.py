from __future__ import annotations

from django.db.models import Q, QuerySet
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


def audit_event_dicts(events: list[AuditEvent]) -> list[dict]:
    """The events as ``portal.history`` reads them: the actors come with the events (one join),
    and the people the sentences name by username in one more query, however long the list."""
    from portal import history

    dicts = [{
        "id": e.pk, "verb": e.verb, "actor": e.actor.display_name if e.actor_id else "",
        "from_state": e.from_state, "to_state": e.to_state, "data": e.data if isinstance(e.data, dict) else {},
        "at": e.created_at, "object_type": e.object_type, "object_id": e.object_id, "object_repr": e.object_repr,
    } for e in events]
    wanted = history.usernames(dicts)
    names = ({u.username: u.display_name for u in User.objects.filter(username__in=wanted)} if wanted else {})
    for d in dicts:
        d["names"] = names
    return dicts


def audit_history_for(obj, *, limit: int = 200) -> list[dict]:
    """The latest ``limit`` events of ``obj``, oldest first, as event dicts."""
    latest = list(audit_events_for(obj).order_by("-created_at", "-id")[:limit])
    return audit_event_dicts(latest[::-1])


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


# --- people and pods ------------------------------------------------------------------------------

def person_list(*, q: str = "", active: str = "active", function: str = "", pod: str = "") -> QuerySet[User]:
    """People for the directory: ``q`` matches name, username, email, function (as written or its
    label) and pod; ``active`` is ``active``, ``inactive`` or ``all``. Each row comes with its pod,
    its pod leads and whether it is on the Council today, in a fixed number of queries."""
    from django.db.models import Exists, OuterRef, Prefetch, Q

    from portal.models import Function, PodLead

    qs = User.objects.select_related("pod").prefetch_related(
        Prefetch("pod_leads", queryset=PodLead.objects.select_related("pod").order_by("pod__name", "function"))
    ).annotate(on_council=Exists(CouncilMembership.objects.active_on().filter(user=OuterRef("pk"))))
    if active == "active":
        qs = qs.filter(is_active=True)
    elif active == "inactive":
        qs = qs.filter(is_active=False)
    if function:
        qs = qs.filter(function=function)
    if pod:
        qs = qs.filter(pod__name=pod)
    for word in q.split():
        functions = [value for value, label in Function.choices if word.lower() in label.lower() or word.lower() in value]
        qs = qs.filter(Q(full_name__icontains=word) | Q(username__icontains=word) | Q(email__icontains=word)
                       | Q(pod__name__icontains=word) | Q(function__in=functions))
    return qs.order_by("full_name", "username")


def person_get(*, username: str) -> User:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(User.objects.select_related("pod"), username=username)


def pod_list() -> QuerySet:
    from django.db.models import Count, Prefetch, Q

    from portal.models import Pod, PodLead

    return Pod.objects.annotate(member_count=Count("members", filter=Q(members__is_active=True))).prefetch_related(
        Prefetch("leads", queryset=PodLead.objects.select_related("user").order_by("function"))
    ).order_by("name")


def council_membership_list(*, include_past: bool = False) -> QuerySet[CouncilMembership]:
    """Current and future memberships (and past ones when asked), soonest start first."""
    qs = CouncilMembership.objects.select_related("user")
    if not include_past:
        from django.db.models import Q

        qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=timezone.localdate()))
    return qs.order_by("start_date", "user__full_name", "id")


def people_matching_sign_in(*, username: str, email: str, limit: int = 3) -> list[User]:
    """The accounts a single sign-on names: the one with its username, the one with its email
    (either, case-insensitive). More than one means the people file disagrees with the provider."""
    match = Q(pk__in=[])
    if username:
        match |= Q(username__iexact=username)
    if email:
        match |= Q(email__iexact=email)
    return list(User.objects.filter(match).order_by("pk")[:limit])
