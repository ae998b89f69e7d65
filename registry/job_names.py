"""The registry's jobs named in words on the jobs pages (``describe`` of its job kinds): each
function takes a list of jobs of one kind and loads what it names for the whole list at once."""

from __future__ import annotations

from django.urls import reverse

from proposals.models import Proposal
from registry.models import MLProject, TrainingConfig


def _ints(values) -> set[int]:
    return {int(v) for v in values if str(v).isdigit()}


def training_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Training of Delivery time prediction → v3": the project, and the version once registered."""
    projects = MLProject.objects.only("pk", "title").in_bulk(
        _ints(job.object_id for job in jobs if job.object_type == "mlproject"))
    names = {}
    for job in jobs:
        project = projects.get(int(job.object_id)) if str(job.object_id).isdigit() else None
        if project is None:
            continue
        text = f"Training of {project.title}"
        version = (job.result or {}).get("model_version") if isinstance(job.result, dict) else None
        if isinstance(version, dict) and version.get("version"):
            text += f" → v{version['version']}"
        names[job.pk] = (text, reverse("registry:project_detail", args=[project.pk]), "Open the project")
    return names


def training_retrain_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Scheduled retraining of delivery-eta"."""
    configs = TrainingConfig.objects.select_related("registered_model").only(
        "pk", "registered_model__name", "registered_model__project_id").in_bulk(
        _ints((job.params or {}).get("config_id") for job in jobs))
    names = {}
    for job in jobs:
        config = configs.get((job.params or {}).get("config_id"))
        if config is not None:
            model = config.registered_model
            names[job.pk] = (f"Scheduled retraining of {model.name}",
                             reverse("registry:project_detail", args=[model.project_id]), "Open the project")
    return names


def project_create_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Project creation for Delivery time prediction", linked to the project once it exists."""
    proposals = Proposal.objects.select_related("project").in_bulk(
        _ints((job.params or {}).get("proposal_id") for job in jobs))
    names = {}
    for job in jobs:
        proposal = proposals.get((job.params or {}).get("proposal_id"))
        if proposal is None:
            continue
        project = getattr(proposal, "project", None)
        url = (reverse("registry:project_detail", args=[project.pk]) if project is not None
               else reverse("proposals:detail", args=[proposal.pk]))
        names[job.pk] = (f"Project creation for {proposal.title}", url,
                          "Open the project" if project is not None else "Open the proposal")
    return names
