"""Writes of the registry: projects and datasets."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from portal.errors import DomainError
from portal.models import User
from portal.services import audit_record
from proposals.models import Proposal, ProposalKind, ProposalState
from registry import datasets as dataset_files
from registry import mlflow_client
from registry.models import Dataset, MLProject, RegisteredModel

logger = logging.getLogger(__name__)


# --- projects --------------------------------------------------------------------------

def _unique_name(base: str) -> str:
    base = base[:80].strip("-") or "project"
    name, n = base, 1
    while MLProject.objects.filter(name=name).exists() or RegisteredModel.objects.filter(name=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def project_create_for_proposal(*, proposal_id: int) -> MLProject | None:
    """Create the ML project of an approved ML proposal, with its first registered model.

    Idempotent: a proposal has at most one project, and calling this again returns it. Only ML
    application proposals become projects (a hiring or build-or-buy decision has no model).
    """
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().select_related("technical_lead", "author").get(pk=proposal_id)
        existing = MLProject.objects.filter(proposal=proposal).first()
        if existing is not None:
            return existing
        if proposal.state != ProposalState.APPROVED:
            raise DomainError(f"Only an approved proposal becomes a project; this one is {proposal.get_state_display().lower()}.")
        if proposal.kind != ProposalKind.ML_APPLICATION:
            return None
        name = _unique_name(slugify(proposal.title) or f"proposal-{proposal.pk}")
        owner = proposal.technical_lead or proposal.author
        try:
            with transaction.atomic():
                project = MLProject.objects.create(proposal=proposal, name=name, title=proposal.title, owner=owner)
        except IntegrityError:  # another process made it first
            return MLProject.objects.get(proposal=proposal)
        project.team.set({owner, *proposal.team.all()})
        model = RegisteredModel.objects.create(project=project, name=name, description=proposal.business_problem[:2000])
        audit_record(actor=None, verb="project.created", obj=project, to_state="active",
                     data={"proposal_id": proposal.pk, "registered_model": model.name})
        transaction.on_commit(lambda: _mlflow_model_ensure(model.pk))
    return project


def _mlflow_model_ensure(model_id: int) -> None:
    """Create the model in MLflow. A failure here is logged, not raised: the approval stands,
    and the training job creates it before registering the first version."""
    model = RegisteredModel.objects.select_related("project").get(pk=model_id)
    try:
        registered_model_ensure_in_mlflow(model=model)
    except Exception:
        logger.warning("could not create registered model %s in MLflow; training will retry", model.name, exc_info=True)


def registered_model_ensure_in_mlflow(*, model: RegisteredModel) -> None:
    """Create the registered model in MLflow unless it is there already."""
    mlflow_client.registered_model_ensure(
        name=model.name, description=model.description,
        tags={mlflow_client.TAG_PROJECT: model.project.name, mlflow_client.TAG_PROPOSAL: str(model.project.proposal_id)},
    )


# --- datasets --------------------------------------------------------------------------

def _store_relpath(sha256: str, fmt: str) -> str:
    return f"by-sha256/{sha256[:2]}/{sha256}.{fmt}"


def _resolve_in_folder(path: str | Path) -> Path:
    folder = Path(settings.DATASETS_FOLDER).resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else folder / candidate).resolve()
    if folder != resolved and folder not in resolved.parents:
        raise DomainError(f"Name a file inside the data folder ({folder}); {path} is outside it.", field="path")
    if not resolved.is_file():
        raise DomainError(f"There is no file {path} in the data folder ({folder}).", field="path")
    return resolved


def dataset_register(*, name: str, by: User | None, uploaded_file=None, path: str | Path | None = None) -> Dataset:
    """Register an uploaded file, or a file already in the data folder, as a dataset.

    The file must be a readable CSV or Parquet file with columns and rows, no larger than
    DATASET_MAX_BYTES; anything else is refused with a DomainError and leaves nothing behind.
    The content is stored under its SHA-256; registering the same content under the same
    name again returns the existing dataset.
    """
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the dataset a name.", field="name")
    if len(name) > 200:
        raise DomainError("A dataset name can be at most 200 characters.", field="name")
    if (uploaded_file is None) == (path is None):
        raise DomainError("Upload a file or name one in the data folder (one of the two).", field="file")
    limit = settings.DATASET_MAX_BYTES
    if uploaded_file is not None:
        original = Path(uploaded_file.name or "").name
        fmt = dataset_files.format_for(original)
        if uploaded_file.size is not None and uploaded_file.size > limit:
            raise dataset_files.too_large(uploaded_file.size, limit)
        chunks: Iterable[bytes] = uploaded_file.chunks()
        source = None
    else:
        source = _resolve_in_folder(path)
        original = source.name
        fmt = dataset_files.format_for(original)
        if source.stat().st_size > limit:
            raise dataset_files.too_large(source.stat().st_size, limit)
        chunks = _file_chunks(source)

    folder = Path(settings.DATASETS_FOLDER)
    incoming = folder / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=incoming, suffix=f".{fmt}", delete=False)
    temp = Path(handle.name)
    created_file: Path | None = None
    try:
        digest, size = hashlib.sha256(), 0
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise dataset_files.too_large(size, limit)
                digest.update(chunk)
                handle.write(chunk)
        sha256 = digest.hexdigest()
        existing = Dataset.objects.filter(name=name, sha256=sha256).first()
        if existing is not None:
            temp.unlink()
            return existing
        frame = dataset_files.read_frame(temp, fmt)
        schema = dataset_files.schema_infer(frame)
        preview = dataset_files.preview(frame)
        rows = len(frame)
        del frame

        relpath = _store_relpath(sha256, fmt)
        final = folder / relpath
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            temp.unlink()
        else:
            os.replace(temp, final)
            created_file = final
        with transaction.atomic():
            dataset = Dataset.objects.create(
                name=name, path=relpath, sha256=sha256, format=fmt, size_bytes=size, rows=rows, schema=schema,
                preview=preview, original_filename=original[:300], uploaded_by=by if by and by.is_authenticated else None,
            )
            audit_record(actor=by, verb="dataset.registered", obj=dataset,
                         data={"sha256": sha256, "rows": rows, "columns": len(schema), "size_bytes": size,
                               "source": "upload" if source is None else "data folder"})
        return dataset
    except BaseException:
        temp.unlink(missing_ok=True)
        if created_file is not None and not Dataset.objects.filter(path=_store_relpath(sha256, fmt)).exists():
            created_file.unlink(missing_ok=True)
        raise


def _file_chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as source:
        yield from iter(lambda: source.read(dataset_files.CHUNK), b"")


def dataset_frame(dataset: Dataset):
    """The dataset's rows, after checking the stored file is still the one registered."""
    path = dataset.file_path
    if not path.is_file():
        raise DomainError(f"The file of dataset {dataset} is missing from the data folder ({path}).")
    if dataset_files.sha256_of(path) != dataset.sha256:
        raise DomainError(f"The file of dataset {dataset} changed since it was registered; register it again.")
    return dataset_files.read_frame(path, dataset.format)
