"""A deployed, really trained model and a log of its predictions, without a serving process.

The predictions are what the drain job stores: rows of the demo problem scored by the registered
MLflow model itself, so a window drawn like the training data matches its reference exactly in
distribution, and a shifted feature is the only thing that differs.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import mlflow.pyfunc
import numpy as np
import pandas as pd
from django.utils import timezone

from registry import demo_data
from registry import services as registry_services
from registry.models import ModelVersion
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from serving import services as serving_services
from serving.models import PredictionRecord
from serving.tests.factories import publish
from workers.models import Job, JobState
from workers.runtime import job_execute


def trained_version(org, project, dataset, *, seed: int = 0) -> ModelVersion:
    job = registry_services.training_start(project=project, dataset=dataset, target="minutes",
                                           features=DELIVERY_FEATURES, task="regression", framework="lightgbm",
                                           by=org.lead, seed=seed, params={"num_boost_round": 40})
    # With a worker running (transactional tests), it may take the job first: then wait for it.
    job_execute(job.pk)
    deadline = time.monotonic() + 180
    while Job.objects.filter(pk=job.pk, state__in=[JobState.QUEUED, JobState.RUNNING]).exists():
        assert time.monotonic() < deadline, "training did not finish in 3 minutes"
        time.sleep(0.2)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    return ModelVersion.objects.get(training_job_id=job.pk)


def monitored_endpoint(name: str = "eta", *, rows: int = 2000, captured=None):
    """(org, project, version, endpoint): a trained version live on ``name``, with its default monitor."""
    org, project = approved_project()
    registry_services.registered_model_ensure_in_mlflow(model=project.models.get())
    dataset = demo_dataset(rows=rows, by=org.lead)
    version = trained_version(org, project, dataset)
    job = serving_services.deployment_deploy(name=name, model_version=version, reason="First model", by=org.lead)
    publish(job)
    Job.objects.filter(kind="deploy").update(state=JobState.SUCCEEDED)
    from serving.models import Endpoint

    return org, project, version, Endpoint.objects.get(name=name)


_models: dict[int, object] = {}


def traffic(version: ModelVersion, *, rows: int = 400, seed: int = 8, shift: dict[str, float] | None = None,
            categorical: dict[str, str] | None = None) -> pd.DataFrame:
    """Requests drawn like the training data; ``shift`` adds a constant to numeric features,
    ``categorical`` replaces a categorical feature's value."""
    frame = demo_data.delivery_times(rows, seed=seed)[DELIVERY_FEATURES]
    for name, delta in (shift or {}).items():
        frame[name] = frame[name] + delta
    for name, value in (categorical or {}).items():
        frame[name] = value
    return frame


def log_predictions(endpoint_name: str, version: ModelVersion, frame: pd.DataFrame, *,
                    at: dt.datetime | None = None, role: str = "primary", revision: int = 1) -> list[str]:
    """Store ``frame``'s rows as logged predictions scored by the real model; returns their ids."""
    if version.pk not in _models:
        _models[version.pk] = mlflow.pyfunc.load_model(f"models:/{version.registered_model.name}/{version.version}")
    outputs = np.asarray(_models[version.pk].predict(frame)).reshape(len(frame), -1)[:, 0]
    at = at or timezone.now() - dt.timedelta(minutes=5)
    prefix = uuid.uuid4().hex[:16]
    records = []
    for i, (row, output) in enumerate(zip(frame.to_dict(orient="records"), outputs.tolist())):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        records.append(PredictionRecord(prediction_id=f"{prefix}-{i}", endpoint=endpoint_name, revision=revision,
                                        model_version_id=version.pk, role=role, inputs=clean, output=output,
                                        latency_ms=1.0, at=at - dt.timedelta(seconds=i % 240)))
    PredictionRecord.objects.bulk_create(records)
    return [r.prediction_id for r in records]


def run_monitor(monitor, *, start=None, end=None):
    """Run the monitor job inline, on its window or an explicit one; returns the stored run."""
    from observability.models import MonitorRun
    from workers.services import job_start

    params = {"monitor_id": monitor.pk}
    if start or end:
        params.update(start=start.isoformat() if start else None, end=end.isoformat() if end else None)
    from django.test import TestCase

    job = job_start(kind="monitor_run", started_by=None, params=params, obj=monitor)
    # What commits runs its after-commit work (the alert's emails), as it does outside a test.
    with TestCase.captureOnCommitCallbacks(execute=True):
        job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    return MonitorRun.objects.filter(monitor=monitor).order_by("-id").first()
