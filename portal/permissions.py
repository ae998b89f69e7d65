"""Who may change people, pods and the Council. The one home of each rule.

Each ``can_*`` answers "may this person do this, and if not, why" as an ``Answer``; the services
enforce it and the pages ask the same function whether to show an edit control. ``actor=None`` is
the system itself (``manage.py import_people``, run by whoever holds the server), which may.
"""

from __future__ import annotations

from typing import NamedTuple

from portal.errors import Forbidden
from portal.models import User
from portal.selectors import chair_term_current


class Answer(NamedTuple):
    ok: bool
    reason: str = ""


YES = Answer(True)


def enforce(answer: Answer) -> None:
    if not answer.ok:
        raise Forbidden(answer.reason)


def _is_admin(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_current_chair(user: User | None) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    term = chair_term_current()
    return bool(term and term.user_id == user.pk)


def can_manage_people(actor: User | None) -> Answer:
    """People and pods: add, edit, (de)activate, set pod leads."""
    if actor is None or _is_admin(actor):
        return YES
    return Answer(False, "Only administrators can add or change people and pods.")


def can_manage_council(actor: User | None) -> Answer:
    """Council memberships and the chair: administrators, and the sitting chair."""
    if actor is None or _is_admin(actor) or is_current_chair(actor):
        return YES
    return Answer(False, "Only administrators and the Council chair can change the Council's members or its chair.")
