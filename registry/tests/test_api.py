"""The registry API: projects, dataset uploads, training jobs, model versions with their lineage,
aliases and "which version was champion at T"; refusals with their reasons, and one training
run through a real worker."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import wait_for
from portal.models import AuditEvent, Function
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for as api_as
from proposals.models import Proposal
from registry import demo_data, mlflow_client, services
from registry.models import AliasEvent, Dataset, ModelVersion, TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, csv_upload, demo_dataset, run_dataset_jobs
from workers.models import Job, JobState

pytestmark = pytest.mark.django_db


def field_errors(response) -> dict:
    """A refused input's messages by field; the refusal also says them in words (``detail``)."""
    body = response.json()
    assert body["detail"], body
    return {k: v for k, v in body.items() if k not in ("detail", "field")}

NEW_PATHS = [
    "/api/v1/projects/", "/api/v1/projects/{project_id}/", "/api/v1/datasets/", "/api/v1/datasets/{dataset_id}/",
    "/api/v1/training-jobs/", "/api/v1/model-versions/", "/api/v1/model-versions/{version_id}/",
    "/api/v1/model-versions/{version_id}/aliases/", "/api/v1/model-versions/champion/",
]


@pytest.fixture
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def project(folder):
    return approved_project()


@pytest.fixture
def delivery(project):
    org, _ = project
    return demo_dataset("delivery_times", rows=200, by=org.lead)


@pytest.fixture
def versions(project, delivery):
    """Two versions registered in MLflow (no training needed)."""
    org, proj = project
    model = proj.models.get()
    services.registered_model_ensure_in_mlflow(model=model)
    made = []
    for run_id in ("run-one", "run-two"):
        registered = mlflow_client.client().create_model_version(model.name, source="file:///nonexistent/model")
        made.append(ModelVersion.objects.create(
            registered_model=model, version=int(registered.version), mlflow_run_id=run_id, dataset=delivery,
            metrics={"mae": 3.2}, params={"framework": "lightgbm", "num_boost_round": 50}, created_by=org.lead,
        ))
    return made


# --- projects --------------------------------------------------------------------------

def test_projects_are_listed_and_shown_with_their_proposal_team_and_models(project):
    org, proj = project
    api = api_as(org.outsider)

    body = api.get("/api/v1/projects/").json()
    assert body["count"] == 1
    [listed] = body["results"]
    assert listed == api.get(f"/api/v1/projects/{proj.pk}/").json()
    assert listed["id"] == proj.pk and listed["name"] == proj.name and listed["proposal"] == proj.proposal_id
    assert listed["owner"] == "techlead" and sorted(listed["team"]) == ["engineer", "techlead"]
    assert listed["registered_models"] == [proj.name] and listed["created_at"]

    assert api.get("/api/v1/projects/999999/").status_code == 404


# --- datasets --------------------------------------------------------------------------

def test_a_csv_upload_registers_a_dataset_with_its_schema_and_preview(folder):
    user = UserFactory(username="scientist")
    api = api_as(user)
    frame = demo_data.delivery_times(120, seed=3)

    response = api.post("/api/v1/datasets/", {"name": "Deliveries", "file": csv_upload(frame, "deliveries.csv")},
                        format="multipart")

    # The file is taken and a job reads it: nothing is registered until it has.
    assert response.status_code == 202, response.content
    queued = response.json()
    assert queued["dataset"] is None and not Dataset.objects.exists()
    assert (queued["job"]["kind"], queued["job"]["state"]) == ("dataset_register", "queued")
    assert queued["job"]["params"]["original_filename"] == "deliveries.csv"
    [job] = run_dataset_jobs()
    dataset = Dataset.objects.get()
    assert job.state == JobState.SUCCEEDED and job.result == {"dataset": dataset.pk}
    body = api.get(f"/api/v1/datasets/{dataset.pk}/").json()
    assert body["id"] == dataset.pk and body["name"] == "Deliveries" and body["sha256"] == dataset.sha256
    assert (body["format"], body["rows"], body["uploaded_by"]) == ("csv", 120, "scientist")
    assert body["size_bytes"] == dataset.size_bytes > 0 and body["original_filename"] == "deliveries.csv"
    columns = {c["name"]: c for c in body["schema"]}
    assert list(columns) == list(frame.columns)
    assert columns["zone"]["kind"] == "categorical" and columns["minutes"]["kind"] == "numeric"
    assert set(columns["courier_load"]) == {"name", "dtype", "kind", "missing_rate", "unique_count", "samples"}
    assert body["preview"]["columns"] == list(frame.columns) and len(body["preview"]["rows"]) == 10
    assert [d["id"] for d in api.get("/api/v1/datasets/").json()["results"]] == [dataset.pk]
    assert api.get("/api/v1/datasets/999999/").status_code == 404

    # The same content under the same name again: the dataset at once, no job.
    again = api.post("/api/v1/datasets/", {"name": "Deliveries", "file": csv_upload(frame, "copy.csv")},
                     format="multipart")
    assert again.status_code == 200, again.content
    assert again.json() == {"job": None, "dataset": body}
    assert Job.objects.filter(kind="dataset_register").count() == 1


def test_a_dataset_for_a_project_is_added_by_its_team_only(folder):
    org, project = approved_project()
    frame = demo_data.delivery_times(60, seed=4)

    refused = api_as(org.outsider).post("/api/v1/datasets/", {"name": "Deliveries", "project": project.pk,
                                                             "file": csv_upload(frame, "deliveries.csv")},
                                        format="multipart")
    assert refused.status_code == 403, refused.content
    assert "Only the technical lead and the team" in refused.json()["detail"]
    assert not Dataset.objects.exists()

    made = api_as(org.lead).post("/api/v1/datasets/", {"name": "Deliveries", "project": project.pk,
                                                      "file": csv_upload(frame, "deliveries.csv")}, format="multipart")
    assert made.status_code == 202, made.content
    run_dataset_jobs()
    assert Dataset.objects.get().project == project
    unknown = api_as(org.lead).post("/api/v1/datasets/", {"name": "Deliveries", "project": 999999,
                                                         "file": csv_upload(frame, "deliveries.csv")}, format="multipart")
    assert unknown.status_code == 400 and "No ML project with id 999999" in unknown.content.decode()
    shared = api_as(org.outsider).post("/api/v1/datasets/", {"name": "Weather", "file": csv_upload(frame, "w.csv")},
                                       format="multipart")
    assert shared.status_code == 202
    run_dataset_jobs()
    assert Dataset.objects.get(name="Weather").project is None


def test_a_parquet_upload_is_registered_too(folder):
    buffer = io.BytesIO()
    demo_data.card_fraud(80).to_parquet(buffer, index=False)
    upload = SimpleUploadedFile("payments.parquet", buffer.getvalue(), content_type="application/octet-stream")

    response = api_as(UserFactory()).post("/api/v1/datasets/", {"name": "Payments", "file": upload}, format="multipart")

    assert response.status_code == 202, response.content
    run_dataset_jobs()
    assert (Dataset.objects.get().format, Dataset.objects.get().rows) == ("parquet", 80)


def test_a_file_of_another_format_is_refused_at_once(folder):
    upload = SimpleUploadedFile("notes.txt", b"a,b\n1,2\n")

    response = api_as(UserFactory()).post("/api/v1/datasets/", {"name": "Broken", "file": upload}, format="multipart")

    assert response.status_code == 400, response.content
    assert "notes.txt is not a CSV (.csv) or Parquet (.parquet) file" in response.json()["detail"]
    assert response.json()["field"] == "file"
    assert not Job.objects.exists() and not Dataset.objects.exists() and files_in(folder) == []


@pytest.mark.parametrize("filename, content, message", [
    ("broken.csv", b"a,b\n1,2\n3,4,5,6\n", "could not be read as CSV"),
    ("empty.csv", b"", "The file is empty"),
    ("header.csv", b"a,b,c\n", "has a header (a, b, c) but no rows"),
    ("broken.parquet", b"this is not parquet", "could not be read as Parquet"),
])
def test_a_broken_file_fails_its_job_with_a_readable_reason_and_leaves_nothing(folder, filename, content, message):
    upload = SimpleUploadedFile(filename, content)

    response = api_as(UserFactory()).post("/api/v1/datasets/", {"name": "Broken", "file": upload}, format="multipart")

    assert response.status_code == 202, response.content
    [job] = run_dataset_jobs()
    assert job.state == JobState.FAILED and message in job.error
    assert not Dataset.objects.exists() and not AuditEvent.objects.filter(verb="dataset.registered").exists()
    assert files_in(folder) == []


def test_a_file_over_the_limit_is_refused_with_the_limit_in_the_message(folder, settings):
    settings.DATASET_MAX_BYTES = 1000
    upload = csv_upload(demo_data.delivery_times(200), "big.csv")

    response = api_as(UserFactory()).post("/api/v1/datasets/", {"name": "Big", "file": upload}, format="multipart")

    assert response.status_code == 413, response.content
    assert "datasets can be at most 1000 bytes" in response.json()["detail"]
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_an_upload_needs_a_name_and_a_file(folder):
    api = api_as(UserFactory())

    no_name = api.post("/api/v1/datasets/", {"file": csv_upload(demo_data.delivery_times(20))}, format="multipart")
    no_file = api.post("/api/v1/datasets/", {"name": "Nothing"}, format="multipart")
    as_json = api.post("/api/v1/datasets/", {"name": "Nothing"}, format="json")

    assert no_name.status_code == 400 and no_name.json()["name"] == ["This field is required."]
    assert no_file.status_code == 400 and no_file.json()["file"] == ["No file was submitted."]
    assert as_json.status_code == 415
    assert not Dataset.objects.exists() and files_in(folder) == []


# --- training jobs ---------------------------------------------------------------------

def training_request(proj, dataset, /, **overrides) -> dict:
    data = {"project": proj.pk, "dataset": dataset.pk, "target": "minutes", "features": DELIVERY_FEATURES,
            "task": "regression", "framework": "lightgbm", "seed": 7, "params": {"num_boost_round": 30}}
    data.update(overrides)
    return data


def test_a_training_job_is_started_and_listed(project, delivery, django_capture_on_commit_callbacks):
    org, proj = project
    api = api_as(org.engineer)

    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/training-jobs/", training_request(proj, delivery, validation_fraction=0.25),
                            format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert (body["kind"], body["state"], body["started_by"]) == ("training", "queued", "engineer")
    assert (body["object_type"], body["object_id"]) == ("mlproject", str(proj.pk))
    config = TrainingConfig.objects.get(pk=job.params["config_id"])
    assert (config.target, config.task, config.framework, config.seed) == ("minutes", "regression", "lightgbm", 7)
    assert config.categorical_features == ["zone"] and "zone" not in config.numeric_features
    assert config.params["num_boost_round"] == 30 and config.validation_fraction == 0.25
    assert config.created_by == org.engineer and config.registered_model == proj.models.get()

    listed = api.get("/api/v1/training-jobs/").json()["results"]
    assert [j["id"] for j in listed] == [job.pk]
    assert [j["id"] for j in api.get("/api/v1/training-jobs/", {"project": proj.pk}).json()["results"]] == [job.pk]
    assert api.get("/api/v1/training-jobs/", {"state": "succeeded"}).json()["results"] == []
    assert field_errors(api.get("/api/v1/training-jobs/", {"project": 999999})) == {"project": ["No ML project with id 999999."]}


@pytest.mark.parametrize("overrides, field, message", [
    ({"features": ["distance_km", "tip"]}, "features",
     "Column 'tip' is not in dataset delivery times; its columns are distance_km, items"),
    ({"target": "duration"}, "target", "Column 'duration' is not in dataset delivery times"),
    ({"features": ["distance_km", "minutes"]}, "features", "The target 'minutes' cannot also be a feature."),
    ({"task": "binary"}, "target", "A binary task needs a target with exactly two values"),
    ({"features": ["distance_km"], "target": "zone"}, "target",
     "A regression target must be numeric; 'zone' holds text."),
    ({"features": ["distance_km", "zone"], "categorical": []}, "features",
     "Feature 'zone' holds text (such as"),
    ({"features": []}, "features", "Choose at least one feature column."),
    ({"validation_fraction": 0.9}, "validation_fraction", "validation_fraction must be between 0.05 and 0.5."),
    ({"params": {"num_boost_round": -3}}, None, "num_boost_round"),
    ({"params": {"epochs": 10}}, None, "epochs"),
    ({"schedule": "every day"}, "schedule", "A schedule is a cron expression of five fields"),
])
def test_a_bad_training_request_says_what_is_wrong_and_starts_nothing(project, delivery, overrides, field, message):
    org, proj = project

    response = api_as(org.lead).post("/api/v1/training-jobs/", training_request(proj, delivery, **overrides),
                                     format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert message in body["detail"]
    if field:
        assert body["field"] == field
    assert not TrainingConfig.objects.exists() and not Job.objects.filter(kind="training").exists()


@pytest.mark.parametrize("overrides, errors", [
    ({"project": 999999}, {"project": ["No ML project with id 999999."]}),
    ({"dataset": 999999}, {"dataset": ["No dataset with id 999999."]}),
    ({"task": "ranking"}, {"task": ['"ranking" is not a valid choice.']}),
    ({"framework": "xgboost"}, {"framework": ['"xgboost" is not a valid choice.']}),
    ({"seed": -1}, {"seed": ["Ensure this value is greater than or equal to 0."]}),
    ({"target": None}, {"target": ["This field may not be null."]}),
    ({"registered_model": "someone-elses-model"},
     {"registered_model": ["{project} has no registered model named 'someone-elses-model'."]}),
])
def test_a_training_request_with_unknown_objects_or_values_is_refused_per_field(project, delivery, overrides, errors):
    org, proj = project
    errors = {key: [m.replace("{project}", str(proj)) for m in messages] for key, messages in errors.items()}

    response = api_as(org.lead).post("/api/v1/training-jobs/", training_request(proj, delivery, **overrides),
                                     format="json")

    assert response.status_code == 400, response.content
    assert field_errors(response) == errors
    assert not TrainingConfig.objects.exists() and not Job.objects.filter(kind="training").exists()


def test_only_the_team_may_train(project, delivery):
    org, proj = project

    response = api_as(org.outsider).post("/api/v1/training-jobs/", training_request(proj, delivery), format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == f"Only the technical lead and the team of {proj} can train its models."
    assert not TrainingConfig.objects.exists() and not Job.objects.filter(kind="training").exists()


# --- model versions --------------------------------------------------------------------

def test_model_versions_are_listed_filtered_and_shown_with_their_lineage(project, delivery, versions):
    org, proj = project
    v1, v2 = versions
    other_org, other = approved_project(org)
    api = api_as(org.outsider)

    listed = api.get("/api/v1/model-versions/").json()
    assert [v["id"] for v in listed["results"]] == [v2.pk, v1.pk]
    assert [v["id"] for v in api.get("/api/v1/model-versions/", {"project": proj.pk}).json()["results"]] == [v2.pk, v1.pk]
    assert api.get("/api/v1/model-versions/", {"project": other.pk}).json()["results"] == []
    by_name = api.get("/api/v1/model-versions/", {"registered_model": proj.name}).json()["results"]
    assert [v["version"] for v in by_name] == [v2.version, v1.version]
    assert api.get("/api/v1/model-versions/", {"registered_model": other.name}).json()["results"] == []
    unknown = api.get("/api/v1/model-versions/", {"registered_model": "nope"})
    assert unknown.status_code == 400 and field_errors(unknown) == {"registered_model": ["No registered model named 'nope'."]}

    detail = api.get(f"/api/v1/model-versions/{v1.pk}/").json()
    assert (detail["registered_model"], detail["version"], detail["project"]) == (proj.name, v1.version, proj.pk)
    assert detail["metrics"] == {"mae": 3.2} and detail["params"]["num_boost_round"] == 50
    assert detail["dataset"] == {"id": delivery.pk, "name": delivery.name, "sha256": delivery.sha256, "rows": 200}
    assert detail["aliases"] == [] and detail["created_by"] == "techlead" and detail["mlflow_run_id"] == "run-one"
    assert detail["lineage"] == {
        "proposal": {"id": proj.proposal_id, "title": proj.proposal.title},
        "project": {"id": proj.pk, "name": proj.name},
        "training_job": None, "training_config": None,
        "dataset": detail["dataset"],
        "mlflow_run_id": "run-one", "registered_model": proj.name, "version": v1.version,
    }
    assert api.get("/api/v1/model-versions/999999/").status_code == 404


# --- aliases ---------------------------------------------------------------------------

def test_the_lead_and_ml_engineers_move_aliases_and_the_api_answers_which_was_champion_when(project, versions):
    org, proj = project
    v1, v2 = versions
    before = timezone.now()

    first = api_as(org.lead).post(f"/api/v1/model-versions/{v1.pk}/aliases/",
                                  {"alias": "champion", "reason": "Beats the rules."}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["id"] == v1.pk and first.json()["aliases"] == ["champion"]
    between = timezone.now()
    engineer = api_as(org.engineer)
    assert engineer.post(f"/api/v1/model-versions/{v2.pk}/aliases/",
                         {"alias": "challenger", "reason": "Shadow it."}, format="json").status_code == 200
    moved = engineer.post(f"/api/v1/model-versions/{v2.pk}/aliases/",
                          {"alias": "champion", "reason": "Won the shadow test."}, format="json")
    assert moved.status_code == 200 and sorted(moved.json()["aliases"]) == ["challenger", "champion"]
    assert int(mlflow_client.client().get_model_version_by_alias(proj.name, "champion").version) == v2.version

    history = api_as(org.outsider).get(f"/api/v1/model-versions/{v1.pk}/aliases/").json()
    assert [(e["alias"], e["version"], e["previous_version"], e["moved_by"], e["reason"]) for e in history] == [
        ("champion", v2.version, v1.version, "engineer", "Won the shadow test."),
        ("challenger", v2.version, None, "engineer", "Shadow it."),
        ("champion", v1.version, None, "techlead", "Beats the rules."),
    ]
    assert history[0]["model_version"] == v2.pk and history[0]["previous_model_version"] == v1.pk
    assert api_as(org.outsider).get(f"/api/v1/model-versions/{v1.pk}/").json()["aliases"] == []

    def champion(**params):
        response = api_as(org.outsider).get("/api/v1/model-versions/champion/", {"registered_model": proj.name, **params})
        assert response.status_code == 200, response.content
        return response.json()

    assert champion(at=before.isoformat())["version"] is None
    then = champion(at=between.isoformat())
    assert then["version"]["id"] == v1.pk and then["alias"] == "champion" and then["registered_model"] == proj.name
    assert then["version"]["aliases"] == []
    now = champion()
    assert now["version"]["id"] == v2.pk and sorted(now["version"]["aliases"]) == ["challenger", "champion"]


def test_alias_moves_are_refused_with_the_reason_and_write_nothing(project, versions):
    org, proj = project
    v1, v2 = versions
    url = f"/api/v1/model-versions/{v1.pk}/aliases/"
    teammate = UserFactory(username="teammate", function=Function.DATA_SCIENTIST)
    proj.team.add(teammate)

    for person in (teammate, org.outsider, UserFactory(username="other_mle", function=Function.ML_ENGINEER)):
        refused = api_as(person).post(url, {"alias": "champion", "reason": "Looks good."}, format="json")
        assert refused.status_code == 403
        assert refused.json()["detail"] == f"Only the technical lead and the ML engineers of {proj} can move its aliases."

    no_reason = api_as(org.lead).post(url, {"alias": "champion", "reason": "  "}, format="json")
    assert no_reason.status_code == 400
    assert no_reason.json() == {"detail": f"Say why {v1} becomes the champion.", "field": "reason"}
    assert api_as(org.lead).post(url, {"alias": "champion"}, format="json").json()["field"] == "reason"
    bad_alias = api_as(org.lead).post(url, {"alias": "production", "reason": "Ship it."}, format="json")
    assert bad_alias.status_code == 400 and field_errors(bad_alias) == {"alias": ['"production" is not a valid choice.']}
    assert not AliasEvent.objects.exists()

    assert api_as(org.lead).post(url, {"alias": "champion", "reason": "Ship it."}, format="json").status_code == 200
    again = api_as(org.lead).post(url, {"alias": "champion", "reason": "Ship it again."}, format="json")
    assert again.status_code == 409 and again.json()["detail"] == f"{v1} is already the champion."

    Proposal.objects.filter(pk=proj.proposal_id).update(state="withdrawn")
    withdrawn = api_as(org.lead).post(f"/api/v1/model-versions/{v2.pk}/aliases/",
                                      {"alias": "champion", "reason": "Better."}, format="json")
    assert withdrawn.status_code == 409
    assert "Aliases can only be moved for approved projects" in withdrawn.json()["detail"]
    assert "withdrawn" in withdrawn.json()["detail"]
    assert AliasEvent.objects.count() == 1
    assert int(mlflow_client.client().get_model_version_by_alias(proj.name, "champion").version) == v1.version

    assert api_as(org.lead).post("/api/v1/model-versions/999999/aliases/", {"alias": "champion", "reason": "x"},
                                 format="json").status_code == 404


def test_the_champion_question_needs_a_known_model_and_a_readable_time(project):
    org, proj = project
    api = api_as(org.outsider)

    missing = api.get("/api/v1/model-versions/champion/")
    unknown = api.get("/api/v1/model-versions/champion/", {"registered_model": "nope"})
    bad_time = api.get("/api/v1/model-versions/champion/", {"registered_model": proj.name, "at": "last tuesday"})

    assert missing.status_code == 400 and field_errors(missing) == {"registered_model": ["This field is required."]}
    assert unknown.status_code == 404 and unknown.json() == {"detail": "No registered model named 'nope'."}
    assert bad_time.status_code == 400 and "Datetime has wrong format" in bad_time.json()["at"][0]


# --- access and schema -----------------------------------------------------------------

def test_every_registry_endpoint_answers_401_without_credentials(project, delivery, versions):
    _, proj = project
    anonymous = APIClient()
    paths = [p.replace("{project_id}", str(proj.pk)).replace("{dataset_id}", str(delivery.pk))
             .replace("{version_id}", str(versions[0].pk)) for p in NEW_PATHS]

    answers = {f"{method} {path}": getattr(anonymous, method)(path).status_code
               for path in paths for method in ("get", "post")}

    assert set(answers.values()) == {401}, answers
    assert not AliasEvent.objects.exists() and Dataset.objects.count() == 1


def test_the_openapi_schema_lists_every_registry_endpoint(project):
    org, _ = project

    response = api_as(org.outsider).get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert [p for p in NEW_PATHS if p not in paths] == []
    assert "multipart/form-data" in paths["/api/v1/datasets/"]["post"]["requestBody"]["content"]
    upload = paths["/api/v1/datasets/"]["post"]["responses"]
    assert {"200", "202", "400", "403", "413"} <= set(upload)
    training = paths["/api/v1/training-jobs/"]["post"]
    assert "202" in training["responses"] and "403" in training["responses"]
    assert set(paths["/api/v1/model-versions/{version_id}/aliases/"]) >= {"get", "post"}


# --- through a real worker -------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_upload_train_on_a_worker_and_open_the_new_version(celery_worker_process):
    org, proj = approved_project()
    api = api_as(org.lead)
    uploaded = api.post("/api/v1/datasets/", {"name": "Deliveries", "file": csv_upload(demo_data.delivery_times(600))},
                        format="multipart")
    assert uploaded.status_code == 202, uploaded.content
    checked = wait_for(lambda: (j := api.get(f"/api/v1/jobs/{uploaded.json()['job']['id']}/").json())["state"]
                       in ("succeeded", "failed") and j, timeout=60, message="the dataset to be checked")
    assert checked["state"] == "succeeded", (checked["error"], celery_worker_process.log()[-3000:])
    dataset_id = checked["result"]["dataset"]

    started = api.post("/api/v1/training-jobs/", training_request(proj, Dataset.objects.get(pk=dataset_id),
                                                                  params={"num_boost_round": 40}), format="json")
    assert started.status_code == 202, started.content

    def finished():
        job = api.get(f"/api/v1/jobs/{started.json()['id']}/").json()
        return job if job["state"] in ("succeeded", "failed", "cancelled") else None

    try:
        job = wait_for(finished, timeout=120, interval=0.25, message="the training job to finish")
    except AssertionError:
        pytest.fail(f"the training job did not finish: {Job.objects.filter(pk=started.json()['id']).values().first()}\n"
                    f"{celery_worker_process.log()[-3000:]}")
    assert job["state"] == "succeeded", (job["error"], celery_worker_process.log()[-3000:])
    result = job["result"]
    version = ModelVersion.objects.get()
    assert result["model_version"] == {"id": version.pk, "name": proj.name, "version": version.version}
    assert result["metrics"]["mae"] > 0 and result["metrics"] == version.metrics

    detail = api.get(f"/api/v1/model-versions/{version.pk}/").json()
    assert detail["metrics"] == result["metrics"] and detail["params"]["num_boost_round"] == 40
    assert detail["lineage"]["proposal"] == {"id": proj.proposal_id, "title": proj.title}
    assert detail["lineage"]["project"]["id"] == proj.pk and detail["lineage"]["training_job"] == job["id"]
    assert detail["lineage"]["mlflow_run_id"] == result["mlflow_run_id"]
    assert (detail["lineage"]["registered_model"], detail["lineage"]["version"]) == (proj.name, version.version)
    assert detail["lineage"]["dataset"]["id"] == dataset_id
