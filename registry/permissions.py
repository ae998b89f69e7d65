"""Who may do what to an ML project. Each rule returns a reason when it says no."""

from __future__ import annotations

from portal.models import Function, User


def _member(user: User, project) -> bool:
    return bool(user and user.is_authenticated and (
        user.pk == project.owner_id or project.team.filter(pk=user.pk).exists()
    ))


def can_train(user: User, project) -> tuple[bool, str]:
    if user is not None and user.is_authenticated and (user.is_staff or user.is_superuser):
        return True, ""
    if _member(user, project):
        return True, ""
    return False, f"Only the technical lead and the team of {project} can train its models."


def can_add_dataset(user: User, project) -> tuple[bool, str]:
    """A project's datasets come from its own team (they feed its scheduled retraining)."""
    if can_train(user, project)[0]:
        return True, ""
    return False, f"Only the technical lead and the team of {project} can register datasets for it."


def can_move_alias(user: User, project) -> tuple[bool, str]:
    if not (user and user.is_authenticated):
        return False, "Sign in to move an alias."
    if user.pk == project.owner_id:
        return True, ""
    if getattr(user, "function", "") == Function.ML_ENGINEER and project.team.filter(pk=user.pk).exists():
        return True, ""
    return False, f"Only the technical lead and the ML engineers of {project} can move its aliases."


def can_suspend(user: User) -> tuple[bool, str]:
    """Suspending and reinstating a project is the Council chair's decision."""
    from proposals.permissions import is_chair

    if is_chair(user):
        return True, ""
    return False, "Only the Council chair can suspend or reinstate a project."


def can_move_alias_now(user: User, project) -> tuple[bool, str]:
    """``can_move_alias``, and only while the project's proposal is approved."""
    from proposals.models import ProposalState

    if project.proposal.state != ProposalState.APPROVED:
        return False, (f"Aliases can only be moved for approved projects; the proposal of {project} is "
                       f"{project.proposal.get_state_display().lower()}.")
    return can_move_alias(user, project)


def job_project(job):
    """The ML project a job is about (a training is started on its project), or None."""
    from registry.models import MLProject

    if job.object_type == MLProject._meta.model_name and str(job.object_id).isdigit():
        return MLProject.objects.filter(pk=int(job.object_id)).first()
    return None


def can_manage_project_job(user: User, job, project=None) -> tuple[bool, str]:
    """A job about a project (a training, a deployment) may be cancelled by the project's technical
    lead and team, besides the person who started it (``may_manage`` of those job kinds)."""
    project = project if project is not None else job_project(job)
    if project is None:
        return False, ""
    if _member(user, project):
        return True, ""
    return False, (f"Only the person who started this job, the technical lead and the team of {project}, "
                   "or an administrator can cancel it.")
