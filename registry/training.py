"""The training job: train on a configuration, log one MLflow run, register one model version.

All or nothing: a cancel or a failure at any point before registration ends the MLflow run
KILLED or FAILED and registers nothing; the job's error says why. The last cancel check is
just before registering, so a cancel that comes later lets the (finished) version stand.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from importlib import metadata
from typing import Any

import pandas as pd
from django.conf import settings

from registry import mlflow_client, selectors, services, trainers
from registry.models import TrainingConfig
from registry.profiles import reference_profile
from registry.trainers.base import TrainSpec
from workers.runtime import JobCancelled

PACKAGES = ("mlflow", "lightgbm", "torch", "pandas", "numpy", "scikit-learn")
INPUT_EXAMPLE_ROWS = 5
REFERENCE_SAMPLE_ROWS = 100_000


@lru_cache(maxsize=1)
def code_version() -> str:
    """``git describe`` of the checkout when there is one, else the installed package version."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=settings.BASE_DIR, capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
        if described:
            return described
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"ml-council-portal {metadata.version('ml-council-portal')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _pip_requirements(framework: str, versions: dict[str, str]) -> list[str]:
    # Written out rather than inferred: inference loads the model in a subprocess, which is
    # slow, and these are exactly the packages the model was trained with.
    names = ["mlflow", "pandas", "numpy", "lightgbm" if framework == "lightgbm" else "torch"]
    return [f"{name}=={versions[name]}" for name in names if name in versions]


def _metric_key(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-. /]", "_", text)[:250]


def training_run(job) -> dict[str, Any]:
    """Job handler (kind ``training``): ``job.params = {"config_id": ...}``."""
    config = TrainingConfig.objects.select_related(
        "registered_model__project__proposal", "dataset", "created_by"
    ).get(pk=job.params["config_id"])
    model = config.registered_model
    project = model.project
    dataset = config.dataset
    trainer = trainers.get(config.framework)

    job.progress(1, f"Loading dataset {dataset.name}")
    frame = selectors.dataset_frame(dataset=dataset)
    spec = TrainSpec(
        target=config.target, numeric_features=list(config.numeric_features),
        categorical_features=list(config.categorical_features), task=config.task, params=dict(config.params),
        validation_fraction=config.validation_fraction, seed=config.seed,
        max_categories=settings.TRAINING_MAX_CATEGORIES,
    )
    job.log(f"Training a {trainer.LABEL} {config.get_task_display().lower()} of {config.target!r} on {dataset} "
            f"({dataset.rows} rows, {len(spec.features)} features), seed {config.seed}.")
    services.registered_model_ensure_in_mlflow(model=model)
    versions = package_versions()
    tags = {
        mlflow_client.TAG_JOB: str(job.job_id),
        mlflow_client.TAG_PROJECT: project.name,
        mlflow_client.TAG_PROPOSAL: str(project.proposal_id),
        mlflow_client.TAG_DATASET: str(dataset.pk),
        mlflow_client.TAG_DATASET_SHA: dataset.sha256,
        mlflow_client.TAG_CODE_VERSION: code_version(),
        mlflow_client.TAG_FRAMEWORK: config.framework,
        "portal.training_config_id": str(config.pk),
        "portal.registered_model": model.name,
        **{f"package.{name}": version for name, version in versions.items()},
    }
    with mlflow_client.run_open(experiment=project.name, run_name=f"{model.name}-job-{job.job_id}", tags=tags,
                                killed_on=(JobCancelled,)) as run_id:
        job.log(f"MLflow run {run_id}.")
        mlflow_client.run_log_params(run_id=run_id, params={
            "framework": config.framework, "task": config.task, "target": config.target,
            "numeric_features": ",".join(config.numeric_features),
            "categorical_features": ",".join(config.categorical_features),
            "seed": config.seed, "validation_fraction": config.validation_fraction,
            "dataset": dataset.name, "dataset_rows": dataset.rows, **config.params,
        })
        job.progress(5, "Training")
        result = trainer.train(spec, frame, job)

        job.progress(91, "Logging metrics, feature importance and the reference profile to MLflow")
        mlflow_client.run_log_history(run_id=run_id, history=result.history)
        mlflow_client.run_log_metrics(run_id=run_id, metrics=result.metrics)
        mlflow_client.run_log_metrics(run_id=run_id, metrics={
            _metric_key(f"importance.{name}"): value for name, value in result.feature_importance.items()
        })
        mlflow_client.run_log_dict(run_id=run_id, data=result.feature_importance, artifact_file="feature_importance.json")
        info = model_artifacts_log(run_id=run_id, spec=spec, result=result, framework=config.framework,
                                   versions=versions, progress=job.progress)
        job.check_cancelled()
        job.progress(98, "Registering the model version")
        version = mlflow_client.model_version_register(name=model.name, model_uri=info.model_uri, run_id=run_id, tags={
            mlflow_client.TAG_JOB: job.job_id, mlflow_client.TAG_PROPOSAL: project.proposal_id,
            mlflow_client.TAG_DATASET_SHA: dataset.sha256, "portal.training_config_id": config.pk,
        })
    try:
        model_version = services.model_version_create(
            config=config, version=int(version), run_id=run_id, job_id=job.job_id, metrics=result.metrics,
            by=config.created_by,
        )
    except BaseException:
        # Keep the rule: no version in MLflow that the portal does not know.
        mlflow_client.model_version_delete(name=model.name, version=version)
        mlflow_client.run_status_set(run_id=run_id, status="FAILED")
        raise
    job.log(f"Registered {model.name} version {version}.")
    return {
        "model_version": {"id": model_version.pk, "name": model.name, "version": int(version)},
        "metrics": result.metrics,
        "mlflow_run_id": run_id,
        "iterations": result.iterations,
    }


def model_artifacts_log(*, run_id: str, spec: TrainSpec, result, framework: str, versions: dict[str, str],
                        progress=None):
    """Log what serving and monitoring read in the open run ``run_id``: ``preprocessing.json``,
    the reference profile and sample, and the self-contained model. Return MLflow's ModelInfo."""
    from registry.model_code import output_frame

    preprocessing = {"features": spec.features, "target": spec.target, "task": spec.task,
                     "classes": result.classes, **result.preprocessing}
    mlflow_client.run_log_dict(run_id=run_id, data=preprocessing, artifact_file="preprocessing.json")
    both = _all_rows(result)
    predictions = result.predict(both)
    mlflow_client.run_log_dict(run_id=run_id, data=reference_profile(
        both, numeric=spec.numeric_features, categorical=spec.categorical_features, task=spec.task,
        predictions=predictions, target=spec.target, classes=result.classes,
    ), artifact_file="reference_profile.json")
    mlflow_client.run_log_frame(run_id=run_id, frame=reference_sample(both, predictions, spec, result.classes),
                                artifact_file="reference_sample.parquet")
    if progress is not None:
        progress(95, "Saving the model")
    example_rows = both[spec.features].head(INPUT_EXAMPLE_ROWS)
    return mlflow_client.model_log(
        framework=framework, model=result.model, preprocessing=preprocessing,
        iterations=result.iterations if framework == "lightgbm" else None,
        input_example=example_rows,
        output_example=output_frame(result.predict(example_rows), preprocessing),
        pip_requirements=_pip_requirements(framework, versions),
    )


def _all_rows(result) -> pd.DataFrame:
    return pd.concat([result.train_frame, result.valid_frame], ignore_index=True)


def reference_sample(both: pd.DataFrame, predictions, spec: TrainSpec, classes) -> pd.DataFrame:
    """Up to REFERENCE_SAMPLE_ROWS raw rows (a seeded sample when more) with the target and the
    model's prediction: the value, P(positive) or the predicted label. Serving's deploy check
    scores these rows and must get the same predictions back."""
    import numpy as np

    frame = both[[*spec.features, spec.target]].copy()
    predictions = np.asarray(predictions)
    if classes is not None:
        labels = np.asarray(classes, dtype=object)
        frame[spec.target] = labels[frame[spec.target].to_numpy(dtype=int)]
        frame["prediction"] = labels[predictions.argmax(axis=1)] if predictions.ndim == 2 else predictions
    else:
        frame["prediction"] = predictions
    if len(frame) > REFERENCE_SAMPLE_ROWS:
        frame = frame.sample(n=REFERENCE_SAMPLE_ROWS, random_state=spec.seed).sort_index()
    return frame.reset_index(drop=True)
