"""Who may change what an endpoint serves, and whether the project may deploy now.

Each rule answers "may this person do this now, and if not, why": the services enforce it, and
the pages ask the same function whether to show a button or the reason.
"""

from __future__ import annotations

from portal.models import Function, User
from proposals.models import ProposalState
from registry.models import ProjectState


def can_deploy(user: User, project) -> tuple[bool, str]:
    """The project's technical lead, its ML engineers, and any ML infrastructure engineer."""
    if not (user and user.is_authenticated):
        return False, "Sign in to deploy."
    if user.pk == project.owner_id:
        return True, ""
    function = getattr(user, "function", "")
    if function == Function.ML_INFRA_ENGINEER:
        return True, ""
    if function == Function.ML_ENGINEER and project.team.filter(pk=user.pk).exists():
        return True, ""
    return False, (f"Only the technical lead and the ML engineers of {project}, or an ML infrastructure engineer, "
                   "can deploy its models.")


def project_deployable(project) -> tuple[bool, str]:
    """Nothing reaches production without an approved proposal and an active project."""
    proposal = project.proposal
    if proposal.state != ProposalState.APPROVED:
        return False, (f"The proposal of {project} is {proposal.get_state_display().lower()}; only approved "
                       "proposals deploy.")
    if project.state == ProjectState.SUSPENDED:
        return False, (f"{project} is suspended by the Council chair ({project.state_rationale}); nothing new is "
                       "deployed until it is reinstated.")
    return True, ""


def can_deploy_now(user: User, project) -> tuple[bool, str]:
    """Both rules at once, for pages deciding between a Deploy button and the reason."""
    ok, reason = can_deploy(user, project)
    if not ok:
        return ok, reason
    return project_deployable(project)


def can_manage_deploy_job(user: User, job) -> tuple[bool, str]:
    """A deployment job may be cancelled by the technical lead and team of the endpoint's project
    (``may_manage`` of the ``deploy`` kind), besides the person who started it."""
    from registry.permissions import can_manage_project_job
    from serving.models import Endpoint

    endpoint = None
    if job.object_type == Endpoint._meta.model_name and str(job.object_id).isdigit():
        endpoint = Endpoint.objects.select_related("project").filter(pk=int(job.object_id)).first()
    if endpoint is None:
        return False, ""
    return can_manage_project_job(user, job, project=endpoint.project)


def can_edit_feature_view(user: User, project) -> tuple[bool, str]:
    """A project's feature views are edited, materialized and moved by its technical lead and
    team (and staff); everyone signed in reads them."""
    from registry.permissions import can_train

    if can_train(user, project)[0]:
        return True, ""
    return False, f"Only the technical lead and the team of {project} can change its feature views."


def can_manage_feature_job(user: User, job) -> tuple[bool, str]:
    """A materialization or move may be cancelled by the view's project's lead and team."""
    from registry.permissions import can_manage_project_job
    from serving.models import FeatureView

    view_id = (job.params or {}).get("view_id")
    view = FeatureView.objects.select_related("project").filter(pk=view_id).first() if isinstance(view_id, int) else None
    if view is None:
        return False, ""
    return can_manage_project_job(user, job, project=view.project)
