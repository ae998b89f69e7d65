"""Training jobs run in this process against the real MLflow store: what a good run logs and
registers, and that a refused, failed or cancelled run registers nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from portal.errors import DomainError, Forbidden
from portal.models import AuditEvent
from registry import demo_data, mlflow_client, services
from registry.models import ModelVersion, TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, FRAUD_FEATURES, approved_project, csv_upload, demo_dataset
from registry.trainers.base import TrainingFailed, encode
from registry.training import training_run
from workers.models import Job
from workers.runtime import JobCancelled, JobRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return approved_project()


@pytest.fixture
def delivery(project):
    org, _ = project
    return demo_dataset("delivery_times", rows=1500, by=org.lead)


def start(project, dataset, django_capture_on_commit_callbacks, **overrides):
    """Start a training job without sending it to a worker; return it marked running."""
    org, project = project
    fields = dict(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                  task="regression", framework="lightgbm", seed=5, by=org.lead)
    fields.update(overrides)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.training_start(**fields)
    Job.objects.filter(pk=job.pk).update(state="running", started_at=timezone.now())
    job.refresh_from_db()
    return job


def runs_of(project, job):
    return mlflow_client.runs_search(experiment=project.name, filter_string=f"tags.`{mlflow_client.TAG_JOB}` = '{job.pk}'")


def test_a_training_job_logs_one_run_and_registers_one_version(project, delivery, django_capture_on_commit_callbacks):
    org, proj = project
    job = start(project, delivery, django_capture_on_commit_callbacks, params={"num_boost_round": 120})
    seen: list[tuple[int, str]] = []

    class Watched(JobRun):
        def progress(self, percent, message=None):
            super().progress(percent, message)
            seen.append((Job.objects.get(pk=self.job_id).progress, message))

    result = training_run(Watched(job))

    # The job's result, and the version the portal knows.
    version = ModelVersion.objects.get()
    assert result["model_version"] == {"id": version.pk, "name": proj.name, "version": version.version}
    assert result["metrics"]["mae"] < 0.5 * result["metrics"]["baseline_mae"]
    assert version.training_job_id == job.pk and version.dataset == delivery and version.created_by == org.lead
    assert version.metrics == result["metrics"] and version.params["num_boost_round"] == 120
    assert version.params["categorical_features"] == ["zone"]
    assert AuditEvent.objects.filter(verb="model_version.registered", object_id=str(version.pk)).exists()
    progress = [p for p, _ in seen]
    assert progress == sorted(progress) and any("validation mae" in (m or "") for _, m in seen)

    # The MLflow version: tagged with the job and the proposal, from the one run.
    [registered] = mlflow_client.model_versions(proj.name)
    assert int(registered.version) == version.version and registered.run_id == result["mlflow_run_id"]
    assert registered.tags[mlflow_client.TAG_JOB] == str(job.pk)
    assert registered.tags[mlflow_client.TAG_PROPOSAL] == str(proj.proposal_id)
    [run] = runs_of(proj, job)
    assert run.info.run_id == result["mlflow_run_id"] and run.info.status == "FINISHED"
    assert run.data.params["framework"] == "lightgbm" and run.data.params["seed"] == "5"
    assert run.data.params["learning_rate"] == "0.05" and run.data.params["categorical_features"] == "zone"
    assert run.data.metrics["mae"] == pytest.approx(result["metrics"]["mae"])
    assert run.data.metrics["importance.distance_km"] > 0
    tags = run.data.tags
    assert tags[mlflow_client.TAG_DATASET_SHA] == delivery.sha256
    assert tags[mlflow_client.TAG_CODE_VERSION]
    assert {"package.lightgbm", "package.torch", "package.mlflow", "package.pandas", "package.numpy"} <= set(tags)
    history = mlflow_client.client().get_metric_history(run.info.run_id, "valid_mae")
    assert [m.step for m in history][:3] == [1, 2, 3] and len(history) >= result["iterations"]

    # The reference profile for monitoring, and the saved model answering on raw rows.
    profile = mlflow_client.run_artifact_dict(run_id=run.info.run_id, artifact_file="reference_profile.json")
    assert profile["rows"] == delivery.rows
    assert set(profile["features"]["zone"]["frequencies"]) == set(demo_data.ZONES)
    assert len(profile["features"]["distance_km"]["edges"]) == 9
    assert profile["features"]["courier_load"]["missing_rate"] > 0
    assert profile["prediction"]["type"] == "numeric" and profile["target"]["mean"] > 0
    preprocessing = mlflow_client.run_artifact_dict(run_id=run.info.run_id, artifact_file="preprocessing.json")
    import mlflow.artifacts
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(f"models:/{proj.name}/{version.version}")
    rows = demo_data.delivery_times(5, seed=99)
    # The registered model takes raw features and answers what the trainer's own predict does.
    predictions = np.asarray(loaded.predict(rows[preprocessing["features"]]))
    assert predictions.shape == (5,) and ((predictions > 0) & (predictions < 200)).all()
    reference = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="reference_sample.parquet"))
    assert len(reference) == delivery.rows and {"zone", "minutes", "prediction"} <= set(reference.columns)
    again = np.asarray(loaded.predict(reference[preprocessing["features"]]))
    np.testing.assert_allclose(again, reference["prediction"].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("overrides, field, message", [
    ({"target": "eta"}, "target", "Column 'eta' is not in dataset delivery times; its columns are distance_km"),
    ({"features": ["distance_km", "tip"]}, "features", "Column 'tip' is not in dataset"),
    ({"categorical": []}, "features", "Feature 'zone' holds text"),
    ({"features": ["minutes", "items"]}, "features", "The target 'minutes' cannot also be a feature."),
    ({"task": "binary"}, "target", "A binary task needs a target with exactly two values; 'minutes' has"),
    ({"task": "ranking"}, "task", "task must be one of regression, binary, multiclass"),
    ({"framework": "xgboost"}, "framework", "framework must be one of lightgbm, torch"),
    ({"params": {"num_leaves": 1}}, "params", "Parameter 'num_leaves' must be at least 2"),
    ({"framework": "torch", "params": {"num_leaves": 8}}, "params", "Unknown PyTorch parameter 'num_leaves'"),
    ({"seed": -1}, "seed", "seed must be a whole number"),
    ({"validation_fraction": 0.9}, "validation_fraction", "validation_fraction must be between 0.05 and 0.5."),
    ({"schedule": "every day"}, "schedule", "five fields"),
])
def test_training_start_refuses_a_bad_request_naming_the_field(project, delivery, overrides, field, message):
    org, proj = project
    fields = dict(project=proj, dataset=delivery, target="minutes", features=DELIVERY_FEATURES,
                  task="regression", framework="lightgbm", by=org.lead)
    fields.update(overrides)
    with pytest.raises(DomainError) as refused:
        services.training_start(**fields)
    assert message in refused.value.message
    assert refused.value.details["field"] == field
    assert not Job.objects.exists() and not TrainingConfig.objects.exists()


def test_a_nan_target_is_refused_at_the_start_and_fails_the_job_if_it_gets_there(project, django_capture_on_commit_callbacks):
    org, proj = project
    frame = demo_data.delivery_times(300)
    frame.loc[[4, 9, 200], "minutes"] = np.nan
    dataset = services.dataset_register(name="gappy", uploaded_file=csv_upload(frame), by=org.lead)
    with pytest.raises(DomainError, match="The target 'minutes' is missing in 3 of 300 rows"):
        services.training_start(project=proj, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                                task="regression", framework="lightgbm", by=org.lead)

    # A configuration that got past the start (made before the check existed, say) fails in the job.
    clean = demo_dataset("delivery_times", rows=300, by=org.lead)
    job = start(project, clean, django_capture_on_commit_callbacks)
    TrainingConfig.objects.filter(pk=job.params["config_id"]).update(dataset=dataset)
    with pytest.raises(TrainingFailed, match=r"The target 'minutes' is missing in 3 of 300 rows \(first at row 5\)"):
        training_run(JobRun(job))
    [run] = runs_of(proj, job)
    assert run.info.status == "FAILED"
    assert mlflow_client.model_versions(proj.name) == [] and not ModelVersion.objects.exists()


def test_a_diverging_torch_run_fails_with_the_epoch_and_registers_nothing(project, delivery, django_capture_on_commit_callbacks):
    _, proj = project
    job = start(project, delivery, django_capture_on_commit_callbacks, framework="torch", params={"learning_rate": 1e6})
    with pytest.raises(TrainingFailed, match=r"Training diverged at epoch \d+: the loss became nan"):
        training_run(JobRun(job))
    [run] = runs_of(proj, job)
    assert run.info.status == "FAILED"
    assert mlflow_client.model_versions(proj.name) == [] and not ModelVersion.objects.exists()


def test_a_cancelled_run_is_killed_in_mlflow_and_registers_nothing(project, delivery, django_capture_on_commit_callbacks):
    _, proj = project
    job = start(project, delivery, django_capture_on_commit_callbacks, framework="torch",
                params={"epochs": 100_000, "early_stopping_rounds": 0})

    class CancelledMidway(JobRun):
        def progress(self, percent, message=None):
            if (message or "").startswith("Epoch"):
                Job.objects.filter(pk=self.job_id).update(cancel_requested_at=timezone.now())
            super().progress(percent, message)

    with pytest.raises(JobCancelled):
        training_run(CancelledMidway(job))
    [run] = runs_of(proj, job)
    assert run.info.status == "KILLED"
    assert mlflow_client.model_versions(proj.name) == [] and not ModelVersion.objects.exists()


def test_only_the_project_team_trains_its_models(project, delivery):
    from portal.tests.factories import UserFactory

    _, proj = project
    with pytest.raises(Forbidden, match="Only the technical lead and the team"):
        services.training_start(project=proj, dataset=delivery, target="minutes", features=DELIVERY_FEATURES,
                                task="regression", framework="lightgbm", by=UserFactory(username="stranger"))
    assert not Job.objects.exists()


def test_categorical_features_are_inferred_from_the_dataset_when_not_given(project, django_capture_on_commit_callbacks):
    org, _ = project
    fraud = demo_dataset("card_fraud", rows=300, by=org.lead)
    job = start(project, fraud, django_capture_on_commit_callbacks, target="is_fraud", features=FRAUD_FEATURES,
                task="binary")
    config = TrainingConfig.objects.get(pk=job.params["config_id"])
    assert config.categorical_features == ["merchant_category"]
    assert "merchant_category" not in config.numeric_features and config.params["num_leaves"] == 31
    assert job.queue == "training" and job.object_type == "mlproject"


def test_the_validation_curve_is_recorded_while_training_and_drawn_on_the_job_page(project, delivery,
                                                                                   django_capture_on_commit_callbacks):
    from portal.tests.fixtures import client_for
    from workers.models import JobPoint

    org, _ = project
    job = start(project, delivery, django_capture_on_commit_callbacks, params={"num_boost_round": 80})
    seen_while_running: list[int] = []

    class Watched(JobRun):
        def progress(self, percent, message=None):
            super().progress(percent, message)
            seen_while_running.append(JobPoint.objects.filter(job_id=self.job_id).count())

    result = training_run(Watched(job))
    steps = list(JobPoint.objects.filter(job=job, series="valid_mae").values_list("step", flat=True))
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= result["iterations"]
    assert any(0 < n < len(steps) for n in seen_while_running)  # points arrive during training, not only at the end
    page = client_for(org.lead).get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="job-curve"' in page and "validation mae" in page


def test_the_throttle_sends_buffered_points_with_progress_and_all_at_the_end():
    from registry.trainers.base import Throttled

    class Reporter:
        def __init__(self):
            self.recorded, self.reports = [], 0

        def record(self, points):
            self.recorded.append(points)

        def progress(self, percent, message=None):
            self.reports += 1

    reporter = Reporter()
    throttle = Throttled(reporter, interval=3600)
    for step in range(1, 6):
        throttle.point("valid_mae", step, 10.0 - step)
        throttle.step(step, 5, f"Round {step}", force=step == 1)
    assert reporter.recorded == [{"valid_mae": [(1, 9.0)]}]  # sent with the first (due) report only
    throttle.tick(force=True)
    assert reporter.recorded[-1] == {"valid_mae": [(2, 8.0), (3, 7.0), (4, 6.0), (5, 5.0)]}


class ReapedBeforeRecording(JobRun):
    """The reaper marks the job failed (its heartbeat looked lost) just as it registers its version."""

    def progress(self, percent, message=None):
        super().progress(percent, message)
        if message == "Registering the model version":
            from workers.services import job_finished

            job_finished(job_id=self.job_id, state="failed", message="Worker lost: no heartbeat.", error="Worker lost")


def test_a_job_the_reaper_marked_failed_records_no_version_and_leaves_none_in_mlflow(
        project, delivery, django_capture_on_commit_callbacks):
    _, proj = project
    job = start(project, delivery, django_capture_on_commit_callbacks)

    with pytest.raises(DomainError, match=rf"Job #{job.pk} is failed: the version 1 it registered in MLflow is not recorded"):
        training_run(ReapedBeforeRecording(job))

    assert not ModelVersion.objects.exists()
    assert mlflow_client.model_versions(proj.name) == []
    [run] = runs_of(proj, job)
    assert run.info.status == "FAILED"
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "Worker lost")


def test_reconcile_removes_the_versions_of_jobs_that_died_before_recording_them(
        project, delivery, django_capture_on_commit_callbacks):
    from workers.runtime import job_execute
    from workers.services import job_finished

    _, proj = project
    good = start(project, delivery, django_capture_on_commit_callbacks)
    training_run(JobRun(good))
    [recorded] = ModelVersion.objects.all()
    source = mlflow_client.model_versions(proj.name)[0].source
    # What a worker killed between registering and recording leaves: a version only MLflow knows.
    dead = start(project, delivery, django_capture_on_commit_callbacks)
    still_running = start(project, delivery, django_capture_on_commit_callbacks)
    for job in (dead, still_running):
        mlflow_client.client().create_model_version(name=proj.name, source=source, run_id=recorded.mlflow_run_id,
                                                    tags={mlflow_client.TAG_JOB: str(job.pk)})
    job_finished(job_id=dead.pk, state="failed", message="Worker lost: no heartbeat.", error="Worker lost")
    with django_capture_on_commit_callbacks(execute=False):
        from workers.services import job_start

        reconcile = job_start(kind="registry_reconcile", started_by=None)

    job_execute(reconcile.pk)

    reconcile.refresh_from_db()
    assert reconcile.state == "succeeded", reconcile.error
    assert reconcile.result == {"removed": 1, "left": 1, "incoming_removed": 0}
    assert sorted(int(v.version) for v in mlflow_client.model_versions(proj.name)) == [1, 3]
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [1]
    event = AuditEvent.objects.get(verb="model_version.unrecorded_removed")
    assert (event.data["version"], event.data["job_id"], event.data["job_state"]) == (2, dead.pk, "failed")
    log = "\n".join(reconcile.log_lines.values_list("text", flat=True))
    assert f"Removed {proj.name} version 2 from MLflow: job #{dead.pk} ended failed" in log
    assert "version 3 left in MLflow: its training job is still running" in log


def test_the_reconcile_job_runs_on_a_default_schedule():
    from workers.models import Schedule

    assert Schedule.objects.get(name="registry_reconcile").kind == "registry_reconcile"
