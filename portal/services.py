"""Writes of the shared kernel: the audit log and people."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from portal.models import AuditEvent, ChairTerm, CouncilMembership, Function, Pod, PodLead, User

log = logging.getLogger(__name__)


def audit_record(
    *,
    actor: User | None,
    verb: str,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call it inside the transaction that makes the change."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        verb=verb,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        from_state=from_state or "",
        to_state=to_state or "",
        data=data or {},
    )


# --- signing in ---------------------------------------------------------------------------------
# Called from the auth signals (portal.signals): every sign-in, refusal and sign-out is audited.

def sign_in_record(*, user: User, method: str, address: str) -> AuditEvent:
    return audit_record(actor=user, verb="user.signed_in", obj=user, data={"method": method, "address": address})


def sign_in_failed_record(*, username: str, method: str, address: str, reason: str = "") -> AuditEvent:
    """A refused sign-in, against the account it named when there is one."""
    data = {"method": method, "address": address, "username": username, "reason": reason}
    user = User.objects.filter(username__iexact=username).first() if username else None
    if user is not None:
        return audit_record(actor=None, verb="user.sign_in_failed", obj=user, data=data)
    return AuditEvent.objects.create(actor=None, verb="user.sign_in_failed", object_type="user", object_id="",
                                     object_repr=username[:200], data=data)


def sign_out_record(*, user: User, address: str) -> AuditEvent:
    return audit_record(actor=user, verb="user.signed_out", obj=user, data={"address": address})


def user_create_from_sign_in(*, username: str, email: str, full_name: str = "") -> User:
    """A person the identity provider vouches for and the people file does not know yet
    (only with OIDC_CREATE_USERS=true). No password: they sign in through the provider."""
    with transaction.atomic():
        user = User(username=username[:150], email=email, full_name=full_name[:200])
        user.set_unusable_password()
        user.save()
        audit_record(actor=None, verb="user.created", obj=user, data={"source": "single_sign_on"})
    return user


def roles_sync_from_groups(*, user: User, groups: Iterable[str]) -> dict[str, list]:
    """Keep council membership and pod leads in step with the groups the identity provider says a
    person is in (OIDC_GROUPS_CLAIM), at each single sign-on: OIDC_COUNCIL_GROUP means on the
    council; ``<OIDC_POD_LEAD_GROUP_PREFIX><pod>:<function>`` (``pod-lead:Delivery:pm``) means lead
    of that function in that pod, taking the place over from whoever held it. A role whose group
    the person is no longer in is ended. The chair stays on the council while their term runs."""
    groups = {str(g).strip() for g in groups if str(g).strip()}
    today = timezone.localdate()
    changes: dict[str, list] = {}
    with transaction.atomic():
        active = CouncilMembership.objects.active_on(today).filter(user=user).first()
        if settings.OIDC_COUNCIL_GROUP in groups and active is None:
            CouncilMembership.objects.create(user=user, start_date=today)
            changes["council"] = [False, True]
        elif settings.OIDC_COUNCIL_GROUP not in groups and active is not None:
            if ChairTerm.objects.active_on(today).filter(user=user).exists():
                log.warning("single sign-on: %s is chair, so stays on the council though not in the group %r",
                            user.username, settings.OIDC_COUNCIL_GROUP)
            else:
                # As the people import does: end dates are inclusive, and a membership that only
                # began today is withdrawn outright.
                if active.start_date >= today:
                    active.delete()
                else:
                    active.end_date = today - relativedelta(days=1)
                    active.save(update_fields=["end_date"])
                changes["council"] = [True, False]

        pods = {pod.name.lower(): pod for pod in Pod.objects.all()}
        prefix = settings.OIDC_POD_LEAD_GROUP_PREFIX
        wanted: dict[tuple[int, str], Pod] = {}
        for group in sorted(groups):
            if not group.startswith(prefix):
                continue
            pod_name, _, function = group[len(prefix):].rpartition(":")
            pod = pods.get(pod_name.strip().lower())
            if pod is None or function not in Function.values:
                log.warning("single sign-on: the group %r names no pod and function of the portal", group)
                continue
            wanted[(pod.pk, function)] = pod
        for lead in PodLead.objects.filter(user=user).select_related("pod"):
            if (lead.pod_id, lead.function) not in wanted:
                changes.setdefault("pod_lead_removed", []).append(f"{lead.pod.name}:{lead.function}")
                lead.delete()
        for (pod_pk, function), pod in wanted.items():
            lead = PodLead.objects.filter(pod_id=pod_pk, function=function).first()
            if lead is None:
                PodLead.objects.create(pod=pod, function=function, user=user)
            elif lead.user_id != user.pk:
                lead.user = user
                lead.save(update_fields=["user"])
            else:
                continue
            changes.setdefault("pod_lead", []).append(f"{pod.name}:{function}")
        if changes:
            audit_record(actor=None, verb="user.updated", obj=user, data={"source": "single_sign_on", "changes": changes})
    return changes
