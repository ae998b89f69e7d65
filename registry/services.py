"""Writes of the registry: projects, datasets, training starts, the versions they register, aliases."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.limits import text_check
from portal.models import User
from portal.redact import redact
from portal.services import audit_record
from proposals.models import Proposal, ProposalKind, ProposalState
from registry import datasets as dataset_files
from registry import mlflow_client, permissions, selectors, trainers
from registry.models import (
    Alias, AliasEvent, AliasMoveState, Dataset, ProjectState, Framework, MLProject, ModelVersion, RegisteredModel, Task, TrainingConfig,
)

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
        proposal = Proposal.objects.select_for_update(of=("self",)).select_related("technical_lead", "author").get(pk=proposal_id)
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
    return project


def project_create_start(*, proposal_id: int):
    """Start the job that creates an approved proposal's project and its MLflow model."""
    from workers.services import job_start

    proposal = Proposal.objects.get(pk=proposal_id)
    return job_start(kind="project_create", started_by=None, params={"proposal_id": proposal.pk}, obj=proposal,
                     message=f"Creating the ML project of {proposal.title}.")


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


def _dataset_name_check(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the dataset a name.", field="name")
    if len(name) > 200:
        raise DomainError("A dataset name can be at most 200 characters.", field="name")
    return name


def _dataset_file_limits() -> dataset_files.FileLimits:
    return dataset_files.FileLimits(
        max_rows=settings.DATASET_MAX_ROWS, max_columns=settings.DATASET_MAX_COLUMNS,
        max_uncompressed_bytes=settings.DATASET_MAX_UNCOMPRESSED_BYTES,
    )


def _dataset_incoming(*, name: str, by: User | None, uploaded_file, path, project: MLProject | None):
    """Every check that needs no parsing, then the file streamed into the incoming folder.

    Returns (name, stored file, format, sha256, size, original filename, source label).
    """
    name = _dataset_name_check(name)
    if (uploaded_file is None) == (path is None):
        raise DomainError("Upload a file or name one in the data folder (one of the two).", field="file")
    if project is not None and by is not None:
        _require(permissions.can_add_dataset(by, project))
    limit = settings.DATASET_MAX_BYTES
    if uploaded_file is not None:
        original = Path(uploaded_file.name or "").name
        fmt = dataset_files.format_for(original)
        if uploaded_file.size is not None and uploaded_file.size > limit:
            raise dataset_files.too_large(uploaded_file.size, limit)
        chunks: Iterable[bytes] = uploaded_file.chunks()
        source = "upload"
    else:
        resolved = _resolve_in_folder(path)
        original = resolved.name
        fmt = dataset_files.format_for(original)
        if resolved.stat().st_size > limit:
            raise dataset_files.too_large(resolved.stat().st_size, limit)
        chunks = _file_chunks(resolved)
        source = "data folder"

    incoming = Path(settings.DATASETS_FOLDER) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=incoming, suffix=f".{fmt}", delete=False)
    temp = Path(handle.name)
    try:
        digest, size = hashlib.sha256(), 0
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise dataset_files.too_large(size, limit)
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return name, temp, fmt, digest.hexdigest(), size, original, source


def _dataset_record(*, name: str, by: User | None, project: MLProject | None, temp: Path, fmt: str, sha256: str,
                    size: int, original: str, source: str, found: dict[str, Any],
                    lineage: dict[str, Any] | None = None) -> Dataset:
    """Move a read file from the incoming folder into the store and create its Dataset, audited.

    The one way a dataset is made, in the request (``dataset_register``) or in a job. On any
    failure the incoming file is removed, and the stored one too unless another dataset uses it.
    """
    folder = Path(settings.DATASETS_FOLDER)
    relpath = _store_relpath(sha256, fmt)
    final = folder / relpath
    created_file: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            temp.unlink(missing_ok=True)
        else:
            os.replace(temp, final)
            created_file = final
        try:
            with transaction.atomic():
                dataset = Dataset.objects.create(
                    name=name, path=relpath, sha256=sha256, format=fmt, size_bytes=size, rows=found["rows"],
                    schema=found["schema"], preview=found["preview"], original_filename=original[:300],
                    uploaded_by=by if by and by.is_authenticated else None, project=project,
                    lineage=lineage or {},
                )
                audit_record(actor=by if by and by.is_authenticated else None, verb="dataset.registered", obj=dataset,
                             data={"sha256": sha256, "rows": found["rows"], "columns": len(found["schema"]),
                                   "size_bytes": size, "source": source,
                                   "project": project.name if project is not None else None})
        except IntegrityError:  # the same name and content registered meanwhile (another job)
            existing = Dataset.objects.filter(name=name, sha256=sha256).first()
            if existing is None:
                raise
            return existing
        return dataset
    except BaseException:
        temp.unlink(missing_ok=True)
        if created_file is not None and not Dataset.objects.filter(path=relpath).exists():
            created_file.unlink(missing_ok=True)
        raise


def dataset_register(*, name: str, by: User | None, uploaded_file=None, path: str | Path | None = None,
                     project: MLProject | None = None, lineage: dict[str, Any] | None = None) -> Dataset:
    """Register an uploaded file, or a file already in the data folder, as a dataset: shared with
    every project, or of one ``project`` (only its team may add to it, and only its datasets feed
    its scheduled retraining). The file is read here, in the caller's process; pages and the API
    use ``dataset_upload_start``, which reads it in a job.

    The file must be a readable CSV or Parquet file with columns and rows, no larger than
    DATASET_MAX_BYTES and within DATASET_MAX_ROWS, DATASET_MAX_COLUMNS and
    DATASET_MAX_UNCOMPRESSED_BYTES; anything else is refused with a DomainError and leaves nothing behind.
    The content is stored under its SHA-256; registering the same content under the same
    name again returns the existing dataset. ``lineage`` says where a built file came from (a
    training set's views and entity set); it is kept with a new dataset only.
    """
    name, temp, fmt, sha256, size, original, source = _dataset_incoming(
        name=name, by=by, uploaded_file=uploaded_file, path=path, project=project)
    try:
        existing = Dataset.objects.filter(name=name, sha256=sha256).first()
        if existing is not None:
            temp.unlink()
            return existing
        found = dataset_files.describe_file(temp, fmt, _dataset_file_limits())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return _dataset_record(name=name, by=by, project=project, temp=temp, fmt=fmt, sha256=sha256, size=size,
                           original=original, source=source, found=found, lineage=lineage)


def dataset_upload_start(*, name: str, by: User | None, uploaded_file=None, path: str | Path | None = None,
                         project: MLProject | None = None):
    """Take a file to register as a dataset and start the job that reads it.

    Everything that needs no reading is checked here (the name, one source, who may add to
    ``project``, the size while streaming, the format from the filename) and the file is kept in
    the incoming folder under a name of its own. Returns ``(job, None)`` with the started
    ``dataset_register`` job, or ``(None, dataset)`` when this name already holds this content.
    Nothing is parsed here: the job reads the file in a child process under DATASET_PARSE_MEMORY_MB.
    """
    from workers.services import job_start

    name, temp, fmt, sha256, size, original, source = _dataset_incoming(
        name=name, by=by, uploaded_file=uploaded_file, path=path, project=project)
    try:
        existing = Dataset.objects.filter(name=name, sha256=sha256).first()
        if existing is not None:
            temp.unlink()
            return None, existing
        params = {"name": name, "stored_file": temp.relative_to(Path(settings.DATASETS_FOLDER)).as_posix(),
                  "format": fmt, "sha256": sha256, "size_bytes": size, "original_filename": original[:300],
                  "source": source, "project_id": project.pk if project is not None else None}
        job = job_start(kind="dataset_register", started_by=by, params=params, obj=project,
                        message=f"Waiting for a worker to check {original}.")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return job, None


def dataset_register_stored(*, params: dict[str, Any], by: User | None, run) -> Dataset:
    """Read a file ``dataset_upload_start`` kept and register it (the ``dataset_register`` job).

    ``run`` is the job's ``JobRun``: progress and log lines go to it, and a cancel stops the read.
    The file is read in a child process limited to DATASET_PARSE_MEMORY_MB; a refusal, running
    out of memory or a cancel removes the kept file and registers nothing.
    """
    from registry import dataset_parse

    folder = Path(settings.DATASETS_FOLDER)
    temp = (folder / params["stored_file"]).resolve()
    if (folder / "incoming").resolve() not in temp.parents:
        raise DomainError(f"The kept file {params['stored_file']} is not in the incoming folder.")
    name, fmt, sha256 = params["name"], params["format"], params["sha256"]
    original = params.get("original_filename") or temp.name
    try:
        project = MLProject.objects.get(pk=params["project_id"]) if params.get("project_id") else None
        existing = Dataset.objects.filter(name=name, sha256=sha256).first()
        if existing is not None:
            run.log(f"{name} already holds this content: dataset #{existing.pk}.")
            temp.unlink(missing_ok=True)
            return existing
        if not temp.is_file():
            raise DomainError(f"The uploaded file {original} is no longer in the incoming folder; upload it again.")
        memory_mb = settings.DATASET_PARSE_MEMORY_MB
        run.progress(20, f"Reading {original} (at most {memory_mb:,} MB of memory)")
        found = dataset_parse.parse(temp, fmt, limits=_dataset_file_limits(), memory_mb=memory_mb,
                                    poll=run.check_cancelled, log=run.log)
        run.progress(80, f"Profiled: {found['rows']:,} rows, {len(found['schema'])} columns")
        run.log(f"Read {found['rows']:,} rows and {len(found['schema'])} columns.")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dataset = _dataset_record(name=name, by=by, project=project, temp=temp, fmt=fmt, sha256=sha256,
                              size=int(params["size_bytes"]), original=original,
                              source=params.get("source") or "upload", found=found)
    # No progress call past this point: it would honour a late cancel of a dataset already made.
    return dataset


INCOMING_KEEP_HOURS = 6


def dataset_incoming_sweep(*, log=None) -> list[str]:
    """Remove files left in the incoming folder: a job cancelled before it ran, a request or a
    worker that died mid-way. A file a queued or running registration job names is kept, and so is
    one younger than INCOMING_KEEP_HOURS (a request may still be streaming it)."""
    from workers.models import Job

    incoming = Path(settings.DATASETS_FOLDER) / "incoming"
    if not incoming.is_dir():
        return []
    waiting = {str(params.get("stored_file")) for params in
               Job.objects.of_kind("dataset_register").active().values_list("params", flat=True)
               if isinstance(params, dict)}
    cutoff = timezone.now().timestamp() - INCOMING_KEEP_HOURS * 3600
    removed = []
    for path in sorted(incoming.iterdir()):
        relpath = path.relative_to(Path(settings.DATASETS_FOLDER)).as_posix()
        if not path.is_file() or relpath in waiting or path.stat().st_mtime > cutoff:
            continue
        path.unlink(missing_ok=True)
        removed.append(relpath)
        if log is not None:
            log(f"Removed {relpath}: no registration job is waiting for it.")
    return removed


def _file_chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as source:
        yield from iter(lambda: source.read(dataset_files.CHUNK), b"")


# --- training --------------------------------------------------------------------------

def _require(allowed: tuple[bool, str]) -> None:
    ok, reason = allowed
    if not ok:
        raise Forbidden(reason)


def _column_error(dataset: Dataset, column: str, field: str) -> DomainError:
    return DomainError(
        f"Column {column!r} is not in dataset {dataset.name}; its columns are {', '.join(dataset.columns)}.",
        field=field, column=column,
    )


def _check_schedule(schedule: str) -> str:
    from workers.services import schedule_check

    return schedule_check(schedule) if (schedule or "").strip() else ""


def training_config_check(*, dataset: Dataset, target: str, features: list[str], categorical: list[str] | None,
                          task: str, framework: str, seed: int, params: dict[str, Any] | None,
                          validation_fraction: float) -> dict[str, Any]:
    """Check a training request against the dataset's schema; return the config's fields.

    ``features`` are all feature columns; ``categorical`` says which of them are categorical
    (columns listed only there are features too). Left out, the text columns are.
    """
    if task not in Task.values:
        raise DomainError(f"task must be one of {', '.join(Task.values)}, not {task!r}.", field="task")
    if framework not in Framework.values:
        raise DomainError(f"framework must be one of {', '.join(Framework.values)}, not {framework!r}.", field="framework")
    if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
        raise DomainError("features must be a list of column names.", field="features")
    if categorical is not None and (not isinstance(categorical, (list, tuple)) or not all(isinstance(c, str) for c in categorical)):
        raise DomainError("categorical must be a list of column names.", field="categorical")
    if not isinstance(target, str) or not target:
        raise DomainError("Choose the target column.", field="target")
    if dataset.column(target) is None:
        raise _column_error(dataset, target, "target")
    all_features = list(dict.fromkeys([*features, *(categorical or [])]))
    if not all_features:
        raise DomainError("Choose at least one feature column.", field="features")
    for name in all_features:
        if dataset.column(name) is None:
            raise _column_error(dataset, name, "features" if name in features else "categorical")
    if target in all_features:
        raise DomainError(f"The target {target!r} cannot also be a feature.", field="features", column=target)
    if categorical is None:
        categorical = [n for n in all_features if dataset.column(n)["kind"] == "categorical"]
    numeric = [n for n in all_features if n not in categorical]
    for name in numeric:
        column = dataset.column(name)
        if column["kind"] == "categorical":
            samples = ", ".join(repr(s) for s in column["samples"][:3])
            raise DomainError(
                f"Feature {name!r} holds text (such as {samples}), so it cannot be numeric; list it as categorical.",
                field="features", column=name,
            )
        if column["kind"] == "datetime":
            raise DomainError(f"Feature {name!r} holds dates and times, which training cannot use yet; leave it out.",
                              field="features", column=name)
    column = dataset.column(target)
    if column["missing_rate"] > 0:
        missing = round(column["missing_rate"] * dataset.rows)
        raise DomainError(
            f"The target {target!r} is missing in {missing} of {dataset.rows} rows; remove or fill those rows, "
            "register the dataset again and train on it.",
            field="target", column=target,
        )
    classes = column["unique_count"]
    if task == "regression" and column["kind"] not in ("numeric", "boolean"):
        raise DomainError(f"A regression target must be numeric; {target!r} holds text.", field="target", column=target)
    if task == "binary" and classes != 2:
        raise DomainError(f"A binary task needs a target with exactly two values; {target!r} has {classes}.",
                          field="target", column=target)
    if task == "multiclass" and not 3 <= classes <= 100:
        raise DomainError(f"A multiclass task needs a target with 3 to 100 values; {target!r} has {classes}.",
                          field="target", column=target)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise DomainError(f"seed must be a whole number from 0 to {2**31 - 1}.", field="seed")
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)) \
            or not 0.05 <= validation_fraction <= 0.5:
        raise DomainError("validation_fraction must be between 0.05 and 0.5.", field="validation_fraction")
    trainer = trainers.get(framework)
    resolved = _params_resolve(trainer, params)
    _training_size_check(dataset=dataset, framework=framework, numeric=numeric, categorical=list(categorical),
                         n_out=classes if task == "multiclass" else 1, params=resolved)
    return {
        "target": target, "numeric_features": numeric, "categorical_features": list(categorical), "task": task,
        "framework": framework, "params": resolved, "seed": seed, "validation_fraction": float(validation_fraction),
    }


def mlp_parameter_count(*, n_in: int, hidden_layers: list[int], n_out: int) -> int:
    """Weights and biases of the MLP's linear layers (``model_code.mlp_class``)."""
    widths = [n_in, *hidden_layers, n_out]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def _training_size_check(*, dataset: Dataset, framework: str, numeric: list[str], categorical: list[str],
                         n_out: int, params: dict[str, Any]) -> None:
    """Refuse, before any job starts, training that is larger than the limits: the rows, and
    for the MLP its depth and its parameter count (computed from the layers and the features)."""
    if dataset.rows > settings.TRAINING_MAX_ROWS:
        raise DomainError(
            f"Dataset {dataset.name} has {dataset.rows:,} rows; training can use at most "
            f"{settings.TRAINING_MAX_ROWS:,} rows (TRAINING_MAX_ROWS). Register a sample of it and train on that, "
            "or ask an admin to raise TRAINING_MAX_ROWS.",
            field="dataset",
        )
    if framework != Framework.TORCH:
        return
    hidden = list(params.get("hidden_layers") or [])
    if len(hidden) > settings.TRAINING_MAX_LAYERS:
        raise DomainError(
            f"The MLP has {len(hidden)} hidden layers; at most {settings.TRAINING_MAX_LAYERS} are allowed "
            "(TRAINING_MAX_LAYERS).",
            field="params",
        )
    # One input per numeric feature and one per kept value of each categorical one (the
    # dataset's distinct values, at most TRAINING_MAX_CATEGORIES each).
    n_in = len(numeric) + sum(
        min(int(dataset.column(name)["unique_count"]), settings.TRAINING_MAX_CATEGORIES) for name in categorical
    )
    count = mlp_parameter_count(n_in=n_in, hidden_layers=hidden, n_out=n_out)
    if count > settings.TRAINING_MAX_PARAMETERS:
        raise DomainError(
            f"The MLP would have {count:,} parameters ({n_in:,} encoded inputs, hidden layers "
            f"{', '.join(map(str, hidden)) or 'none'}, {n_out} output{'s' if n_out != 1 else ''}); at most "
            f"{settings.TRAINING_MAX_PARAMETERS:,} are allowed (TRAINING_MAX_PARAMETERS). "
            "Use fewer or narrower hidden layers.",
            field="params",
        )


def _params_resolve(trainer, params: dict[str, Any] | None) -> dict[str, Any]:
    from registry.trainers.base import params_resolve

    if params is not None and not isinstance(params, dict):
        raise DomainError("params must be an object of parameter names and values.", field="params")
    return params_resolve(trainer.LABEL, trainer.PARAMS, trainer.DEFAULTS, params)


def training_start(
    *,
    project: MLProject,
    dataset: Dataset,
    target: str,
    features: list[str],
    task: str,
    framework: str,
    by: User | None,
    categorical: list[str] | None = None,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    validation_fraction: float = 0.2,
    model: RegisteredModel | None = None,
    schedule: str = "",
):
    """Check the request, keep it as a training configuration, and queue the training job."""
    from workers.services import job_start

    if by is not None:
        _require(permissions.can_train(by, project))
    if dataset.project_id is not None and dataset.project_id != project.pk:
        raise Forbidden(f"Dataset {dataset.name} belongs to another project ({dataset.project}); register the file "
                        f"for {project} or as a shared dataset to train on it.")
    model = model or project.models.order_by("id").first()
    if model is None or model.project_id != project.pk:
        raise DomainError(f"{project} has no such registered model.", field="model")
    fields = training_config_check(dataset=dataset, target=target, features=features, categorical=categorical,
                                   task=task, framework=framework, seed=seed, params=params,
                                   validation_fraction=validation_fraction)
    schedule = _check_schedule(schedule)
    with transaction.atomic():
        config = TrainingConfig.objects.create(
            registered_model=model, dataset=dataset, schedule=schedule,
            created_by=by if by is not None and by.is_authenticated else None, **fields,
        )
        job = job_start(kind="training", started_by=by, params={"config_id": config.pk}, obj=project,
                        message=f"Waiting for a training worker ({config.get_framework_display()}).")
        if schedule:
            training_schedule_sync(config=config)
        audit_record(actor=by, verb="project.training_started", obj=project,
                     data={"job_id": job.pk, "config_id": config.pk, "model": model.name,
                           "framework": framework, "dataset": dataset.name, "dataset_sha256": dataset.sha256})
    return job


def model_version_create(*, config: TrainingConfig, version: int, run_id: str, job_id: int | None,
                         metrics: dict[str, float], by: User | None) -> ModelVersion:
    """Record a version the training job registered in MLflow.

    Only while its job is still running: a job already marked failed (its worker was taken for
    dead) or cancelled was told to the person as ended, so a version it registered afterwards is
    refused; the training job then removes it from MLflow, and ``model_versions_reconcile`` removes
    what a job killed outright left behind."""
    from workers.models import Job, JobState

    with transaction.atomic():
        if job_id is not None:
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None or job.state != JobState.RUNNING:
                state = job.state if job else "missing"
                raise InvalidTransition(
                    f"Job #{job_id} is {state}: the version {version} it registered in MLflow is not recorded.",
                    state=state, allowed_actions=[],
                )
        model_version = ModelVersion.objects.create(
            registered_model=config.registered_model, version=version, mlflow_run_id=run_id,
            training_job_id=job_id, training_config=config, dataset=config.dataset, metrics=metrics,
            params={"framework": config.framework, "task": config.task, "target": config.target,
                    "numeric_features": config.numeric_features,
                    "categorical_features": config.categorical_features, "seed": config.seed,
                    "validation_fraction": config.validation_fraction, **config.params},
            created_by=by,
        )
        audit_record(actor=by, verb="model_version.registered", obj=model_version, to_state="registered",
                     data={"model": config.registered_model.name, "version": version, "run_id": run_id,
                           "job_id": job_id, "dataset_sha256": config.dataset.sha256})
    return model_version


def model_versions_reconcile(*, log=None) -> dict[str, list[dict[str, Any]]]:
    """Remove from MLflow the versions whose training job ended without recording them.

    A worker killed between registering a version in MLflow and recording it leaves a version the
    portal does not know, whose job the reaper later marks failed. Such a version is removed (and
    its run marked FAILED) rather than recorded: its job was reported as failed to the person who
    started it. A version whose job still runs may yet be recorded, and one no portal job
    registered is not the portal's to remove: both are only reported.
    """
    from workers.models import Job

    log = log or (lambda text: None)
    removed: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    for model in RegisteredModel.objects.order_by("name"):
        known = set(ModelVersion.objects.filter(registered_model=model).values_list("version", flat=True))
        for mlflow_version in mlflow_client.model_versions(model.name):
            if int(mlflow_version.version) in known:
                continue
            job_tag = str((mlflow_version.tags or {}).get(mlflow_client.TAG_JOB, ""))
            job = Job.objects.filter(pk=int(job_tag)).first() if job_tag.isdigit() else None
            entry = {"model": model.name, "version": int(mlflow_version.version), "run_id": mlflow_version.run_id or "",
                     "job_id": job.pk if job else None}
            if job is None or not job.is_finished:
                entry["reason"] = "its training job is still running" if job else "no portal job registered it"
                left.append(entry)
                log(f"{model.name} version {entry['version']} left in MLflow: {entry['reason']}.")
                continue
            try:
                mlflow_client.model_version_delete(name=model.name, version=mlflow_version.version)
            except Exception as exc:  # gone already (its job removed it) or MLflow refused: next run retries
                entry["reason"] = redact(f"MLflow did not remove it: {exc}")
                left.append(entry)
                log(f"{model.name} version {entry['version']} left in MLflow: {entry['reason']}.")
                continue
            if mlflow_version.run_id:
                try:
                    mlflow_client.run_status_set(run_id=mlflow_version.run_id, status="FAILED")
                except Exception:
                    logger.warning("could not mark MLflow run %s failed", mlflow_version.run_id, exc_info=True)
            audit_record(actor=None, verb="model_version.unrecorded_removed", obj=model,
                         data={**entry, "job_state": job.state})
            removed.append(entry)
            log(f"Removed {model.name} version {entry['version']} from MLflow: job #{job.pk} ended {job.state} "
                f"before recording it.")
    return {"removed": removed, "left": left}


# --- aliases ---------------------------------------------------------------------------

def model_version_alias_set(*, version: ModelVersion, alias: str, reason: str, by: User,
                            confirm_worse: bool = False) -> AliasEvent:
    """Point an MLflow alias (champion, challenger) at ``version``, and remember who and why.

    Only for approved projects, only by the technical lead or the project's ML engineers. The
    move is recorded as pending, MLflow is called with no transaction open (no row lock waits
    on the network), then the outcome is recorded: applied, or failed with MLflow's reason.
    """
    if alias not in Alias.values:
        raise DomainError(f"alias must be one of {', '.join(Alias.values)}, not {alias!r}.", field="alias")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(f"Say why {version} becomes the {alias}.", field="reason")
    project = version.registered_model.project
    ok, refusal = permissions.can_move_alias_now(by, project)
    if not ok:
        if project.proposal.state != ProposalState.APPROVED:
            raise InvalidTransition(refusal, state=project.proposal.state, allowed_actions=[])
        raise Forbidden(refusal)
    worse = None
    if alias == Alias.CHAMPION:
        comparison = selectors.champion_comparison(version=version)
        if comparison and comparison["champion"] and comparison["champion"]["verdict"] == "worse":
            theirs = comparison["champion"]
            worse = {"metric": comparison["metric"], "value": comparison["value"], "champion_value": theirs["value"],
                     "champion_version": theirs["version"].version}
            if not confirm_worse:
                raise DomainError(
                    f"{version}'s {comparison['metric']} ({comparison['value']:.4g}) is worse than the champion "
                    f"v{theirs['version'].version}'s ({theirs['value']:.4g}). Confirm to make it the champion anyway.",
                    status=409, field="confirm_worse")
    with transaction.atomic():
        # Moves of one model's aliases queue on its row, so "previous" is always right.
        model = RegisteredModel.objects.select_for_update().get(pk=version.registered_model_id)
        if AliasEvent.objects.filter(registered_model=model, alias=alias, state=AliasMoveState.PENDING).exists():
            raise InvalidTransition(f"Another move of the {alias} of {model.name} is in progress; try again shortly.",
                                    state="pending", allowed_actions=[])
        previous = AliasEvent.objects.applied().filter(registered_model=model, alias=alias).select_related("model_version").first()
        previous_version = previous.model_version if previous else None
        if previous_version is not None and previous_version.pk == version.pk:
            raise InvalidTransition(f"{version} is already the {alias}.", state=alias, allowed_actions=[])
        event = AliasEvent.objects.create(registered_model=model, model_version=version, previous_version=previous_version,
                                          alias=alias, moved_by=by, reason=reason, state=AliasMoveState.PENDING)
    try:
        mlflow_client.alias_set(name=model.name, alias=alias, version=str(version.version))
    except Exception as exc:
        message = redact(exc.message if isinstance(exc, DomainError) else f"MLflow did not answer: {exc}")
        with transaction.atomic():
            AliasEvent.objects.filter(pk=event.pk).update(state=AliasMoveState.FAILED, error=message[:2000])
            audit_record(actor=by, verb="model_version.alias_move_failed", obj=version,
                         from_state=f"v{previous_version.version}" if previous_version else "",
                         to_state=f"v{previous_version.version}" if previous_version else "",
                         data={"alias": alias, "model": model.name, "reason": reason, "error": message[:500]})
        if isinstance(exc, DomainError):
            raise
        raise DomainError(message) from exc
    with transaction.atomic():
        event.state = AliasMoveState.APPLIED
        event.at = timezone.now()
        event.save(update_fields=["state", "at"])
        audit_record(actor=by, verb="model_version.alias_moved", obj=version,
                     from_state=f"v{previous_version.version}" if previous_version else "", to_state=f"v{version.version}",
                     data={"alias": alias, "model": model.name, "reason": reason,
                           "previous_version": previous_version.version if previous_version else None,
                           **({"confirmed_worse": worse} if worse else {})})
    return event


# --- scheduled retraining ----------------------------------------------------------------

def _schedule_name(model: RegisteredModel) -> str:
    return f"retrain:{model.name}"


def training_schedule_sync(*, config: TrainingConfig) -> None:
    """Make ``config``'s cron schedule the one that retrains its model (one schedule per model,
    kept by the job runtime's schedules). An empty schedule stops retraining."""
    from workers import services as job_services

    name = _schedule_name(config.registered_model)
    if not config.schedule:
        if training_schedule_get(model=config.registered_model) is not None:
            job_services.schedule_stop(name=name, by=config.created_by)
        return
    job_services.schedule_set(name=name, kind="training_retrain", cron=config.schedule,
                              params={"config_id": config.pk}, obj=config.registered_model, by=config.created_by)
    audit_record(actor=config.created_by, verb="model.retraining_scheduled", obj=config.registered_model,
                 data={"schedule": config.schedule, "config_id": config.pk})


def training_schedule_get(*, model: RegisteredModel):
    from workers.selectors import schedule_get

    return schedule_get(name=_schedule_name(model))


def training_retrain(*, config_id: int):
    """Retrain from a scheduled configuration on the newest dataset of the same name that belongs
    to the project: the schedule exists so that new data becomes a new version without anyone
    clicking, and only the project's team can add that data (a file someone else registers under
    the same name is never picked up). Without a project's dataset of that name, the configured one."""
    config = TrainingConfig.objects.select_related("registered_model__project", "dataset").get(pk=config_id)
    project = config.registered_model.project
    dataset = (Dataset.objects.filter(name=config.dataset.name, project=project).order_by("-created_at", "-id").first()
               or config.dataset)
    return training_start(
        project=config.registered_model.project, model=config.registered_model, dataset=dataset, by=None,
        target=config.target, features=[*config.numeric_features, *config.categorical_features],
        categorical=list(config.categorical_features), task=config.task, framework=config.framework,
        seed=config.seed, params=dict(config.params), validation_fraction=config.validation_fraction,
    )


def training_schedule_stop(*, model: RegisteredModel, by: User) -> None:
    """Stop a model's scheduled retraining."""
    from workers import services as job_services

    _require(permissions.can_train(by, model.project))
    with transaction.atomic():
        if training_schedule_get(model=model) is None:
            raise DomainError(f"{model.name} has no retraining schedule.")
        job_services.schedule_stop(name=_schedule_name(model), by=by)
        audit_record(actor=by, verb="model.retraining_stopped", obj=model)


# --- suspension ----------------------------------------------------------------------------

def _project_state_set(*, project: MLProject, by: User, rationale: str, to: str, verb: str) -> MLProject:
    rationale = text_check(rationale, field="rationale").strip()
    if not rationale:
        raise DomainError("Give a rationale: it is recorded and shown on the project.", field="rationale")
    _require(permissions.can_suspend(by))
    with transaction.atomic():
        project = MLProject.objects.select_for_update().get(pk=project.pk)
        if project.state == to:
            raise InvalidTransition(f"{project} is already {project.get_state_display().lower()}.",
                                    state=project.state, allowed_actions=["reinstate" if to == "suspended" else "suspend"])
        from_state = project.state
        project.state = to
        project.state_rationale = rationale
        project.save(update_fields=["state", "state_rationale"])
        audit_record(actor=by, verb=verb, obj=project, from_state=from_state, to_state=to, data={"rationale": rationale})
    return project


def project_suspend(*, project: MLProject, by: User, rationale: str) -> MLProject:
    """The chair suspends a project: its endpoints keep serving, nothing new is deployed."""
    return _project_state_set(project=project, by=by, rationale=rationale, to=ProjectState.SUSPENDED,
                              verb="project.suspended")


def project_reinstate(*, project: MLProject, by: User, rationale: str) -> MLProject:
    return _project_state_set(project=project, by=by, rationale=rationale, to=ProjectState.ACTIVE,
                              verb="project.reinstated")
