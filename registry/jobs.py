"""Handlers of the registry's job kinds (registered in ``RegistryConfig.ready``)."""

from __future__ import annotations

import time
from typing import Any

from registry import services
from registry.datasets import size_text
from registry.models import RegisteredModel

MLFLOW_ATTEMPTS = 3


def _mlflow_ensure(job, model: RegisteredModel) -> None:
    # MLflow may be restarting; a short retry saves someone re-running the job by hand.
    for attempt in range(1, MLFLOW_ATTEMPTS + 1):
        try:
            services.registered_model_ensure_in_mlflow(model=model)
            return
        except Exception as exc:
            if attempt == MLFLOW_ATTEMPTS:
                raise
            job.log(f"MLflow did not answer ({exc.__class__.__name__}: {exc}); trying again.")
            time.sleep(2 * attempt)


def project_create_run(job) -> dict[str, Any]:
    """Create the ML project of an approved proposal and its registered model in MLflow.
    Idempotent: a second run finds the project and only makes sure MLflow has the model."""
    proposal_id = job.params["proposal_id"]
    job.progress(10, "Creating the ML project")
    project = services.project_create_for_proposal(proposal_id=proposal_id)
    if project is None:
        job.log("This proposal is not an ML application; it has no project.")
        return {"project": None}
    job.log(f"Project {project.name} exists.")
    for model in project.models.all():
        job.progress(50, f"Creating {model.name} in the MLflow registry")
        _mlflow_ensure(job, model)
        job.log(f"Registered model {model.name} is in MLflow.")
    return {"project": {"id": project.pk, "name": project.name}}


def registered_model_setup_run(job) -> dict[str, Any]:
    """Create a project's registered model in MLflow."""
    model = RegisteredModel.objects.select_related("project").get(pk=job.params["registered_model_id"])
    job.progress(10, f"Creating {model.name} in MLflow")
    _mlflow_ensure(job, model)
    job.log(f"Registered model {model.name} is in MLflow.")
    return {"registered_model": model.name}


def training_retrain_run(job) -> dict[str, Any]:
    """A retraining schedule fired: start a training job on the newest data."""
    training = services.training_retrain(config_id=job.params["config_id"])
    job.log(f"Started {training}.")
    return {"training_job": training.pk}



def dataset_register_run(job) -> dict[str, Any]:
    """Read an uploaded file in a child process under DATASET_PARSE_MEMORY_MB and register it."""
    params = job.params
    job.progress(10, f"Stored {params.get('original_filename') or 'the file'} ({size_text(int(params['size_bytes']))}, "
                     f"SHA-256 {params['sha256'][:12]})")
    dataset = services.dataset_register_stored(params=params, by=job.job.started_by, run=job)
    job.log(f"Dataset {dataset.name} (#{dataset.pk}) registered: {dataset.rows:,} rows, {len(dataset.schema)} columns.")
    return {"dataset": dataset.pk}


def registry_reconcile_run(job) -> dict[str, Any]:
    """Scheduled: MLflow keeps no version whose training job ended without recording it."""
    job.progress(10, "Comparing MLflow's model versions with the portal's")
    found = services.model_versions_reconcile(log=job.log)
    job.progress(90, "Removing uploads no registration job waits for")
    swept = services.dataset_incoming_sweep(log=job.log)
    return {"removed": len(found["removed"]), "left": len(found["left"]), "incoming_removed": len(swept)}
