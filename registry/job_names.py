"""The registry's jobs named in words on the jobs pages (``describe`` of its job kinds): each
function takes a list of jobs of one kind and loads what it names for the whole list at once."""

from __future__ import annotations

from django.urls import reverse

from proposals.models import Proposal
from registry.models import Dataset, MLProject, TrainingConfig


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


def dataset_register_describe(jobs) -> dict[int, tuple[str, str, str] | str]:
    """"Dataset registration of Deliveries March", linked to the dataset once it is registered."""
    made = {job.pk: (job.result or {}).get("dataset") if isinstance(job.result, dict) else None for job in jobs}
    datasets = Dataset.objects.only("pk").in_bulk(_ints(made.values()))
    names: dict[int, tuple[str, str, str] | str] = {}
    for job in jobs:
        text = f"Dataset registration of {(job.params or {}).get('name') or 'a file'}"
        dataset = datasets.get(made[job.pk]) if str(made[job.pk]).isdigit() else None
        names[job.pk] = ((text, reverse("registry:dataset_detail", args=[dataset.pk]), "Open the dataset")
                         if dataset is not None else text)
    return names
