"""Every size a person controls in the registry is bounded, and a refusal names the limit."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from portal.errors import DomainError

from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from registry import demo_data, mlflow_client, services
from registry.models import Dataset, TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, csv_upload, demo_dataset
from registry.training import training_run
from workers.models import Job, JobLogLine
from workers.runtime import JobRun

pytestmark = pytest.mark.django_db

TEN_MB = str(10 * 1024 * 1024)


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the upload's declared size -----------------------------------------------------------------

def test_the_upload_page_refuses_a_body_declared_too_large_before_reading_it(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    # The body itself is small: only a refusal made from the Content-Length, before the body is
    # read, can refuse it.
    upload = csv_upload(demo_data.delivery_times(5), "small.csv")

    response = client_for(UserFactory()).post("/projects/datasets/upload/", {"name": "Huge", "file": upload},
                                               CONTENT_LENGTH=TEN_MB)

    assert response.status_code == 400
    text = text_of(response)
    assert "The upload is 10.0 MB; datasets can be at most 2.0 KB (DATASET_MAX_BYTES)" in text
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_the_upload_page_still_checks_csrf_for_an_upload_within_the_limit(folder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = client.post("/projects/datasets/upload/", {"name": "Small", "file": csv_upload(demo_data.delivery_times(30))})
    assert response.status_code == 403
    assert not Dataset.objects.exists()


def test_the_api_refuses_a_body_declared_too_large_with_413_before_reading_it(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    upload = csv_upload(demo_data.delivery_times(5), "small.csv")

    response = api_client_for(UserFactory()).post("/api/v1/datasets/", {"name": "Huge", "file": upload},
                                                  format="multipart", CONTENT_LENGTH=TEN_MB)

    assert response.status_code == 413, response.content
    assert "datasets can be at most 2.0 KB (DATASET_MAX_BYTES)" in response.json()["detail"]
    assert response.json()["field"] == "file"
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_an_upload_within_the_declared_limit_is_registered(folder, settings):
    settings.DATASET_MAX_BYTES = 64 * 1024
    response = api_client_for(UserFactory()).post(
        "/api/v1/datasets/", {"name": "Fine", "file": csv_upload(demo_data.delivery_times(30))}, format="multipart")
    assert response.status_code == 202, response.content


# --- rows, columns and decompressed size -----------------------------------------------------------

def parquet_upload(frame, filename: str = "data.parquet") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return SimpleUploadedFile(filename, buffer.getvalue())


def register(upload):
    return services.dataset_register(name="Limited", uploaded_file=upload, by=None)


def test_a_parquet_file_past_the_row_column_or_decompressed_limit_is_refused_from_its_footer(folder, settings):
    settings.DATASET_MAX_ROWS = 100
    settings.DATASET_MAX_COLUMNS = 5
    frame = pd.DataFrame({"a": range(150), "b": range(150)})
    with pytest.raises(DomainError) as refused:
        register(parquet_upload(frame))
    assert "The file has 150 rows; datasets can have at most 100 rows (DATASET_MAX_ROWS)" in refused.value.message
    assert refused.value.status == 413

    wide = pd.DataFrame({f"c{i}": range(10) for i in range(8)})
    with pytest.raises(DomainError, match=r"8 columns; datasets can have at most 5 columns \(DATASET_MAX_COLUMNS\)"):
        register(parquet_upload(wide))

    # Repeated text compresses to almost nothing, but is large once read.
    settings.DATASET_MAX_COLUMNS = 50
    settings.DATASET_MAX_UNCOMPRESSED_BYTES = 10_000
    compressible = pd.DataFrame({"text": [f"{i:03d}" + "x" * 1000 for i in range(50)]})
    upload = parquet_upload(compressible)
    assert upload.size < 10_000
    with pytest.raises(DomainError, match=r"at most 9.8 KB \(DATASET_MAX_UNCOMPRESSED_BYTES\)"):
        register(upload)

    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_csv_file_past_the_column_or_row_limit_is_refused_and_one_within_is_kept(folder, settings):
    settings.DATASET_MAX_ROWS = 100
    settings.DATASET_MAX_COLUMNS = 5
    wide = pd.DataFrame({f"c{i}": range(10) for i in range(8)})
    with pytest.raises(DomainError, match=r"8 columns; datasets can have at most 5 columns \(DATASET_MAX_COLUMNS\)"):
        register(csv_upload(wide))
    with pytest.raises(DomainError, match=r"more than 100 rows; datasets can have at most 100 rows \(DATASET_MAX_ROWS\)"):
        register(csv_upload(pd.DataFrame({"a": range(101)})))
    assert not Dataset.objects.exists() and files_in(folder) == []

    assert register(csv_upload(pd.DataFrame({"a": range(100)}))).rows == 100


# --- training -------------------------------------------------------------------------------------

@pytest.fixture
def project():
    return approved_project()


def training_fields(project, dataset, **overrides):
    org, proj = project
    fields = dict(project=proj, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                  task="regression", framework="torch", by=org.lead)
    fields.update(overrides)
    return fields


def test_a_one_hot_feature_past_the_category_limit_keeps_its_most_frequent_values_and_logs_it(
        project, settings, django_capture_on_commit_callbacks):
    settings.TRAINING_MAX_CATEGORIES = 2
    org, proj = project
    frame = demo_data.delivery_times(600, seed=3)
    dataset = services.dataset_register(name="deliveries", uploaded_file=csv_upload(frame), by=org.lead)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.training_start(**training_fields(project, dataset, params={"epochs": 2}))
    Job.objects.filter(pk=job.pk).update(state="running", started_at=timezone.now())

    training_run(JobRun(job))

    zones = frame["zone"].value_counts()
    top_two = sorted(zones.index[:2])
    [run] = mlflow_client.runs_search(experiment=proj.name,
                                      filter_string=f"tags.`{mlflow_client.TAG_JOB}` = '{job.pk}'")
    preprocessing = mlflow_client.run_artifact_dict(run_id=run.info.run_id, artifact_file="preprocessing.json")
    assert sorted(preprocessing["categories"]["zone"]) == top_two
    log = " ".join(JobLogLine.objects.filter(job=job).values_list("text", flat=True))
    assert (f"Feature 'zone' has {len(zones)} distinct values; kept the 2 most frequent and encoded the other "
            f"{len(zones) - 2}") in log
    assert "TRAINING_MAX_CATEGORIES" in log


def test_training_on_more_rows_than_the_limit_is_refused_at_the_start(project, settings):
    org, _ = project
    dataset = demo_dataset("delivery_times", rows=300, by=org.lead)
    settings.TRAINING_MAX_ROWS = 200
    with pytest.raises(DomainError) as refused:
        services.training_start(**training_fields(project, dataset, framework="lightgbm"))
    assert refused.value.message.startswith(f"Dataset {dataset.name} has 300 rows; training can use at most 200 rows "
                                            "(TRAINING_MAX_ROWS)")
    assert not Job.objects.exists() and not TrainingConfig.objects.exists()


def test_an_mlp_too_deep_or_with_too_many_parameters_is_refused_with_the_count_and_the_limit(project, settings):
    org, _ = project
    dataset = demo_dataset("delivery_times", rows=300, by=org.lead)
    settings.TRAINING_MAX_LAYERS = 3
    with pytest.raises(DomainError, match=r"The MLP has 4 hidden layers; at most 3 are allowed \(TRAINING_MAX_LAYERS\)"):
        services.training_start(**training_fields(project, dataset, params={"hidden_layers": [8, 8, 8, 8]}))

    # 6 numeric features and the zone's distinct values (one input each), two hidden layers, one output.
    n_in = 6 + dataset.column("zone")["unique_count"]
    expected = (n_in * 1000 + 1000) + (1000 * 1000 + 1000) + (1000 + 1)
    settings.TRAINING_MAX_PARAMETERS = 1_000_000
    with pytest.raises(DomainError) as refused:
        services.training_start(**training_fields(project, dataset, params={"hidden_layers": [1000, 1000]}))
    assert (f"The MLP would have {expected:,} parameters ({n_in} encoded inputs, hidden layers 1000, 1000, 1 output); "
            "at most 1,000,000 are allowed (TRAINING_MAX_PARAMETERS)") in refused.value.message
    assert refused.value.details["field"] == "params"
    assert not Job.objects.exists()

    # Within the limits it starts.
    assert services.training_start(**training_fields(project, dataset, params={"hidden_layers": [64, 32]}))


# --- free text ------------------------------------------------------------------------------------

def test_a_rationale_past_the_text_limit_is_refused_naming_the_limit(project, settings):
    from portal.tests.fixtures import flash

    settings.TEXT_MAX_CHARS = 40
    org, proj = project
    response = client_for(org.chair).post(f"/projects/{proj.pk}/state/", {"action": "suspend", "rationale": "r" * 41})
    assert any("This text is 41 characters; it can be at most 40 characters (TEXT_MAX_CHARS)" in m for m in flash(response))
    proj.refresh_from_db()
    assert proj.state == "active"


# --- schedules --------------------------------------------------------------------------------------

def test_a_retraining_schedule_more_often_than_the_minimum_is_refused_naming_it(project, settings):
    org, _ = project
    dataset = demo_dataset("delivery_times", rows=300, by=org.lead)
    with pytest.raises(DomainError) as refused:
        services.training_start(**training_fields(project, dataset, framework="lightgbm", schedule="* * * * *"))
    assert refused.value.message == (
        "The schedule '* * * * *' runs every 1 minute; a schedule can run at most every 5 minutes "
        "(SCHEDULE_MIN_INTERVAL_MINUTES), for example '*/5 * * * *'.")
    assert refused.value.details["field"] == "schedule"
    assert not Job.objects.exists() and not TrainingConfig.objects.exists()

    settings.SCHEDULE_MIN_INTERVAL_MINUTES = 60
    with pytest.raises(DomainError, match="runs every 30 minutes; a schedule can run at most every 60 minutes"):
        services.training_start(**training_fields(project, dataset, framework="lightgbm", schedule="0,30 3 * * *"))
    assert services.training_start(**training_fields(project, dataset, framework="lightgbm", schedule="0 3 * * *"))
