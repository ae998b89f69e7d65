"""Who may tune monitors, handle alerts and set a project's promise.

Each rule answers "may this person do this now, and if not, why": services enforce it and pages
ask the same function whether to show a form or the reason.
"""

from __future__ import annotations

from portal.models import Function, User
from portal.selectors import council_member_list


def is_owner(user: User, project) -> bool:
    """The technical lead, the project team, and ML infrastructure engineers."""
    if not (user and user.is_authenticated):
        return False
    if user.pk == project.owner_id or getattr(user, "function", "") == Function.ML_INFRA_ENGINEER:
        return True
    return project.team.filter(pk=user.pk).exists()


def can_tune_monitor(user: User, project) -> tuple[bool, str]:
    if is_owner(user, project):
        return True, ""
    return False, (f"Only the technical lead and the team of {project}, or an ML infrastructure engineer, "
                   "can change its monitors.")


def can_handle_alert(user: User, project) -> tuple[bool, str]:
    """Owners, and the ML Council (an alert is on its agenda)."""
    if is_owner(user, project) or council_member_list().filter(pk=getattr(user, "pk", None)).exists():
        return True, ""
    return False, (f"Only the technical lead and the team of {project}, an ML infrastructure engineer or a "
                   "Council member can acknowledge or resolve its alerts.")


def can_set_promise(user: User, project) -> tuple[bool, str]:
    if user and user.is_authenticated and (user.pk == project.owner_id or user.is_superuser):
        return True, ""
    return False, f"Only the technical lead of {project} links its success metric to a model quality target."


def can_manage_backfill_job(user: User, job) -> tuple[bool, str]:
    """A reference sample job is about one model version: its project's technical lead and team may
    cancel it (``may_manage`` of the ``reference_backfill`` kind)."""
    from registry.models import ModelVersion
    from registry.permissions import can_manage_project_job

    version = None
    if job.object_type == ModelVersion._meta.model_name and str(job.object_id).isdigit():
        version = ModelVersion.objects.select_related("registered_model__project").filter(pk=int(job.object_id)).first()
    if version is None:
        return False, ""
    return can_manage_project_job(user, job, project=version.registered_model.project)
