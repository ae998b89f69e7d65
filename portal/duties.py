"""What a person is still on the hook for: the duties someone must reassign when they leave.

The kernel knows its own roles (pod leads, Council membership, the chair); each app registers a
finder for the duties it keeps (``register("proposals", fn)`` from its ``AppConfig.ready()``), so
portal never names a domain app. A finder takes the person and returns ``Duty`` rows; it must not
care whether the person is still active, since a deactivated person's duties are the point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.urls import reverse

from portal.models import CouncilMembership, PodLead, User
from portal.selectors import chair_term_current


@dataclass(frozen=True)
class Duty:
    kind: str    # a stable key: pod_lead, council_member, chair, pod_review, technical_lead, vote, project_owner
    label: str   # the kind in words: "Pod review owed"
    title: str   # what it is about: "Predict delivery times"
    url: str     # where to reassign or settle it
    detail: str = ""


Finder = Callable[[User], Iterable[Duty]]
_FINDERS: dict[str, Finder] = {}


def register(name: str, finder: Finder) -> None:
    _FINDERS[name] = finder


def _own_duties(user: User) -> list[Duty]:
    duties = [
        Duty("pod_lead", "Pod lead", f"{lead.pod.name}: {lead.get_function_display()} lead", reverse("pods"))
        for lead in PodLead.objects.filter(user=user).select_related("pod")
    ]
    term = chair_term_current()
    if term is not None and term.user_id == user.pk:
        duties.append(Duty("chair", "Council chair", f"Chair until {term.end_date:%-d %b %Y}", reverse("council_members")))
    for membership in CouncilMembership.objects.active_on().filter(user=user):
        until = f"until {membership.end_date:%-d %b %Y}" if membership.end_date else "with no end date"
        duties.append(Duty("council_member", "Council member", f"On the Council {until}", reverse("council_members")))
    return duties


def duties_of(user: User) -> list[Duty]:
    """Every open duty of ``user``: the kernel's roles first, then each app's, in registration order."""
    duties = _own_duties(user)
    for finder in _FINDERS.values():
        duties.extend(finder(user))
    return duties
