"""Writes of the shared kernel: the audit log and people."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from portal.models import AuditEvent, User


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
