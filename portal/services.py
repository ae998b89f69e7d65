"""Writes of the shared kernel: the audit log and people."""

from __future__ import annotations

from typing import Any

from django.db import models

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
