"""Reads of the registry."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.errors import DomainError
from registry.models import Alias, AliasEvent, Dataset, MLProject, ModelVersion, RegisteredModel


def project_list() -> QuerySet[MLProject]:
    return MLProject.objects.select_related("proposal", "owner").prefetch_related("models")


def project_get(*, project_id: int) -> MLProject:
    return get_object_or_404(project_list().prefetch_related("team"), pk=project_id)


def project_for_proposal(*, proposal_id: int) -> MLProject | None:
    return project_list().filter(proposal_id=proposal_id).first()


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.select_related("uploaded_by")


def dataset_get(*, dataset_id: int) -> Dataset:
    return get_object_or_404(dataset_list(), pk=dataset_id)


def dataset_frame(*, dataset: Dataset):
    """The dataset's rows, after checking the stored file is still the one registered."""
    from registry import datasets as dataset_files

    path = dataset.file_path
    if not path.is_file():
        raise DomainError(f"The file of dataset {dataset} is missing from the data folder ({path}).")
    if dataset_files.sha256_of(path) != dataset.sha256:
        raise DomainError(f"The file of dataset {dataset} changed since it was registered; register it again.")
    return dataset_files.read_frame(path, dataset.format)


def model_version_list(*, model: RegisteredModel | None = None, project: MLProject | None = None) -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.select_related(
        "registered_model__project", "dataset", "training_config", "training_job", "created_by"
    )
    if model is not None:
        qs = qs.filter(registered_model=model)
    if project is not None:
        qs = qs.filter(registered_model__project=project)
    return qs


def model_version_get(*, version_id: int) -> ModelVersion:
    return get_object_or_404(model_version_list(), pk=version_id)


def training_job_list(*, project: MLProject | None = None):
    from workers.models import Job

    jobs = Job.objects.of_kind("training").select_related("started_by")
    return jobs.for_object(project) if project is not None else jobs


def registered_model_named(*, name: str) -> RegisteredModel | None:
    return RegisteredModel.objects.select_related("project").filter(name=name).first()


def alias_event_list(*, model: RegisteredModel) -> QuerySet[AliasEvent]:
    """Every move of ``model``'s aliases, newest first."""
    return AliasEvent.objects.filter(registered_model=model).select_related(
        "model_version", "previous_version", "moved_by", "registered_model"
    )


def alias_holder_at(*, model: RegisteredModel, alias: str, at) -> ModelVersion | None:
    """The version ``alias`` pointed at, at time ``at`` (None before it was first set)."""
    event = (AliasEvent.objects.filter(registered_model=model, alias=alias, at__lte=at)
             .select_related("model_version").order_by("-at", "-id").first())
    return event.model_version if event else None


def aliases_current(*, model: RegisteredModel) -> dict[str, ModelVersion]:
    current = {}
    for alias in Alias.values:
        event = AliasEvent.objects.filter(registered_model=model, alias=alias).select_related("model_version").first()
        if event is not None:
            current[alias] = event.model_version
    return current
