"""Training through a real Celery worker process: live progress, a registered version, a cancel."""

from __future__ import annotations

import time

import pytest

from conftest import wait_for
from registry import mlflow_client, services
from registry.models import ModelVersion
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from workers.models import Job, JobState
from workers.services import job_cancel

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_training_on_a_worker_registers_a_version_and_a_cancel_stops_the_next(celery_worker_process):
    org, project = approved_project()
    dataset = demo_dataset("delivery_times", rows=2000, by=org.lead)
    job = services.training_start(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                                  task="regression", framework="lightgbm", seed=1, by=org.lead,
                                  params={"num_boost_round": 400, "learning_rate": 0.03})
    seen: list[tuple[str, int, str]] = []

    def finished():
        current = Job.objects.get(pk=job.pk)
        seen.append((current.state, current.progress, current.message))
        return current if current.is_finished else None

    done = wait_for(finished, timeout=180, interval=0.1, message="the training job to finish")
    assert done.state == JobState.SUCCEEDED, (done.error, celery_worker_process.log()[-3000:])
    progress = [p for state, p, _ in seen if state == JobState.RUNNING]
    assert progress == sorted(progress) and len({p for p in progress if 0 < p < 100}) >= 2, seen
    assert any(m.startswith("Logging") or m.startswith("Round") for _, _, m in seen)

    version = ModelVersion.objects.get()
    assert done.result["model_version"]["version"] == version.version
    assert done.result["metrics"]["mae"] < 0.5 * done.result["metrics"]["baseline_mae"]
    [registered] = mlflow_client.model_versions(project.name)
    assert registered.tags[mlflow_client.TAG_JOB] == str(job.pk)
    run = mlflow_client.run_get(registered.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["num_boost_round"] == "400" and run.data.params["target"] == "minutes"
    assert run.data.metrics["mae"] == pytest.approx(done.result["metrics"]["mae"])
    assert run.data.tags[mlflow_client.TAG_DATASET_SHA] == dataset.sha256
    assert run.data.tags[mlflow_client.TAG_PROPOSAL] == str(project.proposal_id)

    # A long torch run stops within seconds of the cancel, and leaves no version behind.
    long_job = services.training_start(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                                       task="regression", framework="torch", by=org.lead,
                                       params={"epochs": 100_000, "early_stopping_rounds": 0})
    wait_for(lambda: Job.objects.get(pk=long_job.pk).message.startswith("Epoch"), timeout=180,
             message="the torch training to reach its epochs")
    asked = time.monotonic()
    job_cancel(job=long_job, by=org.lead)
    stopped = wait_for(lambda: (j := Job.objects.get(pk=long_job.pk)).is_finished and j, timeout=15,
                       message="the training to stop")
    assert stopped.state == JobState.CANCELLED and time.monotonic() - asked < 10
    assert stopped.result is None
    assert [v.version for v in mlflow_client.model_versions(project.name)] == [registered.version]
    assert ModelVersion.objects.count() == 1
    [killed] = mlflow_client.runs_search(experiment=project.name,
                                         filter_string=f"tags.`{mlflow_client.TAG_JOB}` = '{long_job.pk}'")
    assert killed.info.status == "KILLED"
