"""Writes about people, pods, pod leads and the Council.

Every change is one transaction that checks who may (``portal.permissions``), writes, and records
an audit event. A call that would change nothing writes nothing, audit included, so that
``import_people`` can run the same file twice. ``actor=None`` is the system (the import command).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from portal.models import ChairTerm, CouncilMembership, Function, Pod, PodLead, User
from portal.permissions import can_manage_council, can_manage_people, enforce
from portal.selectors import chair_term_current
from portal.services import audit_record

USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
UNSET: Any = object()


def chair_term_length() -> relativedelta:
    return relativedelta(months=getattr(settings, "CHAIR_TERM_MONTHS", 12))


def _source(data: dict, source: str) -> dict:
    return {**data, "source": source} if source else data


def _clean_email(email: str) -> str:
    email = (email or "").strip()
    if not email:
        raise DomainError("An email address is required.", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(f"{email!r} is not a valid email address.", field="email")
    return email


def _clean_function(function: str) -> str:
    function = (function or "").strip().lower()
    if function and function not in Function.values:
        raise DomainError(f"Function {function!r} is not one of {', '.join(Function.values)}.", field="function")
    return function


def _is_chair(user: User) -> bool:
    term = chair_term_current()
    return bool(term and term.user_id == user.pk)


def _require_active(user: User, what: str) -> None:
    if not user.is_active:
        raise DomainError(f"{user.display_name} is deactivated and cannot {what}.", status=409, field="user")


# --- people -------------------------------------------------------------------------------------

@transaction.atomic
def person_add(*, actor: User | None, username: str, email: str, full_name: str = "", function: str = "",
               pod: Pod | None = None, password: str = "", source: str = "") -> User:
    """A new person. Without a password they cannot sign in until an administrator sets one."""
    enforce(can_manage_people(actor))
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise DomainError("A username is 1 to 150 letters, digits and @.+-_ (no spaces).", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(f"The username {username!r} is taken.", status=409, field="username")
    user = User(username=username, email=_clean_email(email), full_name=(full_name or "").strip(),
                function=_clean_function(function), pod=pod)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), field="password")
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_record(actor=actor, verb="user.created", obj=user, to_state="active",
                 data=_source({"function": user.function, "pod": pod.name if pod else ""}, source))
    return user


@transaction.atomic
def person_update(*, actor: User | None, user: User, email: str = UNSET, full_name: str = UNSET,
                  function: str = UNSET, pod: Pod | None = UNSET, source: str = "") -> dict[str, list]:
    """Change what is given; returns the changes as ``{field: [before, after]}`` (empty: nothing changed)."""
    enforce(can_manage_people(actor))
    changes: dict[str, list] = {}
    wanted = {}
    if email is not UNSET:
        wanted["email"] = _clean_email(email)
    if full_name is not UNSET:
        wanted["full_name"] = (full_name or "").strip()
    if function is not UNSET:
        wanted["function"] = _clean_function(function)
    for attr, value in wanted.items():
        if getattr(user, attr) != value:
            changes[attr] = [getattr(user, attr), value]
            setattr(user, attr, value)
    if pod is not UNSET and user.pod_id != (pod.pk if pod else None):
        changes["pod"] = [user.pod.name if user.pod_id else "", pod.name if pod else ""]
        user.pod = pod
    if changes:
        user.save()
        audit_record(actor=actor, verb="user.updated", obj=user, data=_source({"changes": changes}, source))
    return changes


@transaction.atomic
def person_deactivate(*, actor: User | None, user: User, reason: str = "") -> User:
    """The person can no longer sign in, review or vote; their history stays, and their roles stay
    on record until someone reassigns them (``portal.duties.duties_of`` lists them)."""
    enforce(can_manage_people(actor))
    if actor is not None and actor.pk == user.pk:
        raise DomainError("You cannot deactivate yourself; ask another administrator.", status=409)
    if not user.is_active:
        raise DomainError(f"{user.display_name} is already deactivated.", status=409)
    if _is_chair(user):
        raise DomainError(f"{user.display_name} is the Council chair: hand the chair over first.", status=409)
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, verb="user.deactivated", obj=user, from_state="active", to_state="inactive",
                 data={"reason": reason.strip()} if reason and reason.strip() else {})
    return user


@transaction.atomic
def person_reactivate(*, actor: User | None, user: User) -> User:
    enforce(can_manage_people(actor))
    if user.is_active:
        raise DomainError(f"{user.display_name} is already active.", status=409)
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, verb="user.reactivated", obj=user, from_state="inactive", to_state="active")
    return user


# --- pods ---------------------------------------------------------------------------------------

@transaction.atomic
def pod_add(*, actor: User | None, name: str, description: str = "", source: str = "") -> Pod:
    enforce(can_manage_people(actor))
    name = (name or "").strip()
    if not name:
        raise DomainError("A pod needs a name.", field="name")
    if len(name) > 100:
        raise DomainError("A pod's name is at most 100 characters.", field="name")
    if Pod.objects.filter(name__iexact=name).exists():
        raise DomainError(f"There is already a pod named {name!r}.", status=409, field="name")
    pod = Pod.objects.create(name=name, description=(description or "").strip())
    audit_record(actor=actor, verb="pod.created", obj=pod, data=_source({}, source))
    return pod


@transaction.atomic
def pod_lead_set(*, actor: User | None, pod: Pod, function: str, user: User | None, source: str = "") -> PodLead | None:
    """``user`` leads ``function`` in ``pod`` from now; ``user=None`` leaves the function without a lead."""
    enforce(can_manage_people(actor))
    function = _clean_function(function)
    if not function:
        raise DomainError("Say which function the lead is for.", field="function")
    if user is not None:
        _require_active(user, "lead a pod")
    current = PodLead.objects.select_for_update().filter(pod=pod, function=function).select_related("user").first()
    before = current.user.username if current else ""
    after = user.username if user else ""
    if before == after:
        return current
    if user is None:
        current.delete()
        lead = None
    elif current is None:
        lead = PodLead.objects.create(pod=pod, function=function, user=user)
    else:
        current.user = user
        current.save(update_fields=["user"])
        lead = current
    audit_record(actor=actor, verb="pod.lead_set", obj=pod, from_state=before, to_state=after,
                 data=_source({"function": function}, source))
    return lead


# --- the Council --------------------------------------------------------------------------------

@transaction.atomic
def council_membership_add(*, actor: User | None, user: User, start_date: dt.date | None = None,
                           end_date: dt.date | None = None, source: str = "") -> CouncilMembership:
    enforce(can_manage_council(actor))
    _require_active(user, "join the Council")
    start_date = start_date or timezone.localdate()
    if end_date is not None and end_date < start_date:
        raise DomainError("A membership cannot end before it starts.", field="end_date")
    overlapping = CouncilMembership.objects.filter(user=user, start_date__lte=end_date or dt.date.max).exclude(
        end_date__lt=start_date).order_by("start_date").first()
    if overlapping is not None:
        until = f" to {overlapping.end_date:%-d %b %Y}" if overlapping.end_date else ""
        raise DomainError(f"{user.display_name} is already on the Council from {overlapping.start_date:%-d %b %Y}{until}.",
                          status=409, field="user")
    membership = CouncilMembership.objects.create(user=user, start_date=start_date, end_date=end_date)
    audit_record(actor=actor, verb="council.member_added", obj=membership, to_state=user.username,
                 data=_source({"start_date": start_date.isoformat(),
                               "end_date": end_date.isoformat() if end_date else None}, source))
    return membership


@transaction.atomic
def council_membership_end(*, actor: User | None, membership: CouncilMembership, end_date: dt.date | None = None,
                           source: str = "") -> CouncilMembership | None:
    """The last day served is ``end_date`` (inclusive; default yesterday, so off the Council from
    today). A membership that has not begun by then is withdrawn outright: returns None."""
    enforce(can_manage_council(actor))
    today = timezone.localdate()
    end_date = end_date or today - relativedelta(days=1)
    user = membership.user
    if membership.end_date is not None and membership.end_date <= end_date:
        raise DomainError(f"{user.display_name}'s membership already ends on {membership.end_date:%-d %b %Y}.",
                          status=409)
    if _is_chair(user):
        raise DomainError(f"{user.display_name} is the Council chair: hand the chair over first.", status=409)
    data = _source({"start_date": membership.start_date.isoformat()}, source)
    if end_date < membership.start_date:
        if membership.start_date < today:
            raise DomainError("A membership cannot end before it starts.", field="end_date")
        audit_record(actor=actor, verb="council.member_withdrawn", obj=membership, from_state=user.username, data=data)
        membership.delete()
        return None
    membership.end_date = end_date
    membership.save(update_fields=["end_date"])
    audit_record(actor=actor, verb="council.member_ended", obj=membership, from_state=user.username,
                 data={**data, "end_date": end_date.isoformat()})
    return membership


@transaction.atomic
def chair_handover(*, actor: User | None, to_user: User, from_date: dt.date | None = None,
                   source: str = "") -> ChairTerm:
    """``to_user`` chairs from ``from_date`` for a term of ``CHAIR_TERM_MONTHS``; the sitting chair's
    term ends the day before."""
    enforce(can_manage_council(actor))
    today = timezone.localdate()
    from_date = from_date or today
    if from_date < today:
        raise DomainError("A handover starts today or later; past terms stay as they were.", field="from_date")
    _require_active(to_user, "chair the Council")
    if not CouncilMembership.objects.active_on(from_date).filter(user=to_user).exists():
        raise DomainError(f"{to_user.display_name} is not on the Council on {from_date:%-d %b %Y}: "
                          "the chair must be a member.", status=409, field="user")
    current = ChairTerm.objects.select_for_update().active_on(from_date).order_by("-start_date", "-id").first()
    if current is not None and current.user_id == to_user.pk:
        raise DomainError(f"{to_user.display_name} already chairs the Council then.", status=409, field="user")
    if current is not None:
        current.end_date = max(current.start_date, from_date - relativedelta(days=1))
        current.save(update_fields=["end_date"])
    term = ChairTerm.objects.create(user=to_user, start_date=from_date,
                                    end_date=from_date + chair_term_length() - relativedelta(days=1))
    audit_record(actor=actor, verb="chair.handed_over", obj=term,
                 from_state=current.user.username if current else "", to_state=to_user.username,
                 data=_source({"end_date": term.end_date.isoformat()}, source))
    return term
