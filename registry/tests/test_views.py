"""The projects, datasets and model version pages, as the people involved see and use them."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from portal.models import Function
from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, flash, text_of
from registry import demo_data, mlflow_client, services
from registry.models import AliasEvent, Dataset, ModelVersion, TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, csv_upload, demo_dataset, run_dataset_jobs
from registry.training import training_run
from workers.models import Job, JobState
from workers.runtime import JobRun

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


@pytest.fixture
def project():
    return approved_project()


@pytest.fixture
def delivery(project):
    org, _ = project
    return demo_dataset("delivery_times", rows=400, by=org.lead, name="Deliveries March")


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def train(org, project, dataset, **params) -> ModelVersion:
    """Train in this process, against the real MLflow store, as a worker would; return the version."""
    job = services.training_start(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                                  task="regression", framework="lightgbm", seed=3, by=org.lead,
                                  params={"num_boost_round": 40, **params})
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    result = training_run(JobRun(job))
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, progress=100, result=result,
                                         finished_at=timezone.now())
    return ModelVersion.objects.get(pk=result["model_version"]["id"])


# --- sign-in ----------------------------------------------------------------------------------

def test_every_registry_page_sends_an_anonymous_visitor_to_sign_in(client):
    for path in ("/projects/", "/projects/1/", "/projects/datasets/", "/projects/datasets/1/",
                 "/projects/versions/1/", "/projects/versions/compare/?a=1&b=2"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
    for path in ("/projects/1/train/", "/projects/datasets/upload/", "/projects/versions/1/aliases/"):
        response = client.post(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
    assert not Dataset.objects.exists() and not Job.objects.exists()


# --- projects ---------------------------------------------------------------------------------

def test_with_no_project_the_list_explains_where_projects_come_from():
    response = client_for(UserFactory()).get("/projects/")
    text = text_of(response)
    assert response.status_code == 200
    assert "No ML projects yet" in text and "when the Council approves it" in text
    assert 'href="/proposals/"' in response.content.decode()
    assert 'aria-current="page">Projects &amp; Models' in response.content.decode()


def test_the_list_shows_each_project_with_its_proposal_owner_models_and_latest_version(project, delivery):
    org, proj = project
    version = train(org, proj, delivery)
    response = client_for(org.outsider).get("/projects/")
    html, text = response.content.decode(), text_of(response)
    assert proj.title in text and proj.name in text
    assert f'href="/proposals/{proj.proposal_id}/"' in html and "Approved" in text
    assert org.lead.display_name in text
    assert f'href="/projects/versions/{version.pk}/"' in html
    assert f"MAE {version.metrics['mae']:.4g}" in text
    assert "1 version" in text and "Succeeded" in text


def test_the_project_page_shows_proposal_team_versions_and_training_jobs(project, delivery):
    org, proj = project
    version = train(org, proj, delivery)
    queued = services.training_start(project=proj, dataset=delivery, target="minutes", features=["distance_km"],
                                     task="regression", framework="torch", by=org.engineer, schedule="0 3 * * 1")
    response = client_for(org.lead).get(f"/projects/{proj.pk}/")
    html, text = response.content.decode(), text_of(response)
    assert response.status_code == 200
    assert f'href="/proposals/{proj.proposal_id}/"' in html and "Approved" in text
    assert org.lead.display_name in text and org.engineer.display_name in text and "owner" in text
    # The versions table, with the key metric, and the jobs with their state and a link to follow them.
    assert f'href="/projects/versions/{version.pk}/"' in html and f"v{version.version}" in text
    assert f"{version.metrics['mae']:.4g}" in text
    assert f'href="/jobs/{version.training_job_id}/"' in html and f'href="/jobs/{queued.pk}/"' in html
    assert "Queued" in text and "Succeeded" in text and f"Registered v{version.version}" in text
    assert 'hx-trigger="every 2s"' in html  # a queued job: the table follows it
    # The schedule the second start set, and the form with its defaults.
    assert "0 3 * * 1" in text and "PyTorch MLP regression of minutes" in text
    assert 'id="train-form"' in html and "Default 300." in text and "Default 64, 32." in text
    assert f'<option value="{delivery.pk}"' in html


def test_someone_outside_the_team_is_told_why_they_cannot_train_and_a_post_starts_nothing(project, delivery):
    org, proj = project
    outsider = client_for(org.outsider)
    response = outsider.get(f"/projects/{proj.pk}/")
    assert 'id="train-form"' not in response.content.decode()
    assert f"Only the technical lead and the team of {proj} can train its models." in text_of(response)

    response = outsider.post(f"/projects/{proj.pk}/train/", {
        "dataset": delivery.pk, "target": "minutes", "task": "regression", "features": DELIVERY_FEATURES,
        "categorical": ["zone"], "framework": "lightgbm", "seed": 0, "validation_fraction": 0.2,
    })
    assert response.status_code == 302
    assert flash(response) == [f"Only the technical lead and the team of {proj} can train its models."]
    assert not Job.objects.exists() and not TrainingConfig.objects.exists()


def form_data(dataset, **overrides):
    data = {"dataset": dataset.pk, "target": "minutes", "task": "regression", "features": DELIVERY_FEATURES,
            "categorical": ["zone"], "framework": "lightgbm", "seed": "7", "validation_fraction": "0.25",
            "lgb_num_boost_round": "50", "lgb_learning_rate": "0.1", "lgb_num_leaves": "15",
            "lgb_early_stopping_rounds": "10", "torch_epochs": "40", "torch_learning_rate": "0.003",
            "torch_batch_size": "128", "torch_early_stopping_rounds": "10", "torch_hidden_layers": "64, 32"}
    data.update(overrides)
    return data


def test_a_team_member_starts_training_from_the_form_and_lands_on_the_job_page(project, delivery):
    org, proj = project
    response = client_for(org.engineer).post(f"/projects/{proj.pk}/train/", form_data(delivery))
    job = Job.objects.get(kind="training")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    config = TrainingConfig.objects.get(pk=job.params["config_id"])
    assert config.dataset == delivery and config.target == "minutes" and config.created_by == org.engineer
    assert config.categorical_features == ["zone"] and "zone" not in config.numeric_features
    assert set(config.numeric_features) == set(DELIVERY_FEATURES) - {"zone"}
    assert config.seed == 7 and config.validation_fraction == 0.25
    assert config.params["num_boost_round"] == 50 and config.params["num_leaves"] == 15
    assert config.params["lambda_l2"] == 0.0  # not in the form: the trainer's default
    assert "Training started: LightGBM on Deliveries March." in flash(response)[0]


def test_the_torch_form_sends_the_mlp_parameters(project, delivery):
    org, proj = project
    client_for(org.lead).post(f"/projects/{proj.pk}/train/", form_data(delivery, framework="torch", torch_epochs="5",
                                                                        torch_hidden_layers="16,8"))
    config = TrainingConfig.objects.get()
    assert config.framework == "torch" and config.params["epochs"] == 5 and config.params["hidden_layers"] == [16, 8]
    assert "num_boost_round" not in config.params


@pytest.mark.parametrize("overrides, message", [
    ({"categorical": []}, "Feature 'zone' holds text"),
    ({"features": [], "categorical": []}, "Tick at least one feature column."),
    ({"task": "binary"}, "A binary task needs a target with exactly two values; 'minutes' has"),
    ({"lgb_num_boost_round": "0"}, "Ensure this value is greater than or equal to 1."),
    ({"schedule": "every monday"}, "A schedule is a cron expression of five fields"),
    ({"torch_hidden_layers": "wide", "framework": "torch"}, "Give whole numbers separated by commas"),
])
def test_a_refused_training_request_shows_why_in_the_form_and_starts_nothing(project, delivery, overrides, message):
    org, proj = project
    response = client_for(org.lead).post(f"/projects/{proj.pk}/train/", form_data(delivery, **overrides))
    assert response.status_code == 400
    assert message in text_of(response)
    assert 'id="train-form"' in response.content.decode()
    assert not Job.objects.exists() and not TrainingConfig.objects.exists()


def test_the_target_is_never_also_a_feature(project, delivery):
    org, proj = project
    client_for(org.lead).post(f"/projects/{proj.pk}/train/",
                              form_data(delivery, features=[*DELIVERY_FEATURES, "minutes"]))
    assert "minutes" not in TrainingConfig.objects.get().features


def test_picking_a_dataset_fills_the_column_choices_in_place_or_by_reloading(project, delivery):
    org, proj = project
    lead = client_for(org.lead)
    response = lead.get(f"/projects/{proj.pk}/", {"dataset": delivery.pk}, HTTP_HX_TARGET="train-columns", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="train-columns"')
    # Every column to tick; the last one proposed as the target, the text one as categorical.
    for column in delivery.columns:
        assert f'value="{column}"' in html
    assert '<option value="minutes" selected>' in html and '<option value="regression" selected>' in html
    assert re.search(r'name="categorical" value="zone"[^>]*checked', html)
    assert not re.search(r'name="categorical" value="distance_km"[^>]*checked', html)

    # Another target: the task follows it (raining has two values).
    response = lead.get(f"/projects/{proj.pk}/", {"dataset": delivery.pk, "target": "raining"},
                        HTTP_HX_TARGET="train-columns", **HTMX)
    html = response.content.decode()
    assert '<option value="raining" selected>' in html and '<option value="binary" selected>' in html
    assert re.search(r'name="features" value="minutes"[^>]*checked', html)

    # Without JavaScript the same choice reloads the page with the columns filled in.
    response = lead.get(f"/projects/{proj.pk}/", {"dataset": delivery.pk})
    html = response.content.decode()
    assert "<html" in html and 'name="features" value="distance_km"' in html
    assert "Choose a dataset to pick the target" not in text_of(response)
    # No dataset picked: a hint instead of the columns.
    response = lead.get(f"/projects/{proj.pk}/", HTTP_HX_TARGET="train-columns", **HTMX)
    assert "Choose a dataset to pick the target" in text_of(response) and "<html" not in response.content.decode()


def test_the_training_jobs_region_refreshes_alone(project, delivery):
    org, proj = project
    job = services.training_start(project=proj, dataset=delivery, target="minutes", features=DELIVERY_FEATURES,
                                  task="regression", framework="lightgbm", by=org.lead)
    response = client_for(org.lead).get(f"/projects/{proj.pk}/", HTTP_HX_TARGET="training-jobs", **HTMX)
    html = response.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<div id="training-jobs"')
    assert f'href="/jobs/{job.pk}/"' in html and "Waiting for a training worker" in html


# --- datasets ---------------------------------------------------------------------------------

def test_uploading_a_good_file_leads_to_its_dataset_page(folder):
    user = UserFactory(full_name="Dana Scientist")
    frame = demo_data.delivery_times(300, seed=4)
    c = client_for(user)
    assert "No datasets yet" in text_of(c.get("/projects/datasets/"))

    response = c.post("/projects/datasets/upload/", {"name": "Deliveries April", "file": csv_upload(frame, "april.csv")})
    [job] = Job.objects.filter(kind="dataset_register")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert flash(response) == ["Upload received: checking april.csv…"]
    run_dataset_jobs()
    dataset = Dataset.objects.get()

    response = c.get(f"/projects/datasets/{dataset.pk}/")
    text = text_of(response)
    assert "Deliveries April" in text and "april.csv" in text and "Dana Scientist" in text
    assert dataset.sha256 in text and "300" in text
    assert f"{dataset.size_bytes / 1024:.1f} KB" in text
    # The schema: each column with its type, missing rate and samples; then the first rows.
    for column in frame.columns:
        assert column in text
    assert "categorical" in text and "numeric" in text and "float64" in text
    missing = frame["courier_load"].isna().mean() * 100
    assert f"{missing:.1f}%".replace(".0%", "%") in text
    assert str(frame.iloc[0]["distance_km"]) in text
    assert "None yet" in text  # no version trained on it yet

    listing = text_of(c.get("/projects/datasets/"))
    assert "Deliveries April" in listing and dataset.sha256[:12] in listing
    assert "shared with every project" in text


def test_the_upload_form_offers_only_the_projects_i_can_add_to(project):
    org, proj = project
    frame = demo_data.delivery_times(200, seed=4)
    form_for_lead = client_for(org.lead).get("/projects/datasets/").content.decode()
    assert f'<option value="{proj.pk}">{proj.title}</option>' in form_for_lead
    assert f'<option value="{proj.pk}">' not in client_for(org.outsider).get("/projects/datasets/").content.decode()

    # A project's id posted by someone outside its team is refused by the form; nothing is kept.
    refused = client_for(org.outsider).post("/projects/datasets/upload/", {
        "name": "Deliveries April", "project": proj.pk, "file": csv_upload(frame, "april.csv")})
    assert refused.status_code == 400 and not Dataset.objects.exists()
    made = client_for(org.lead).post("/projects/datasets/upload/", {
        "name": "Deliveries April", "project": proj.pk, "file": csv_upload(frame, "april.csv")})
    assert made.status_code == 302
    run_dataset_jobs()
    dataset = Dataset.objects.get()
    assert dataset.project == proj
    assert f"for {proj.title}" in text_of(client_for(org.outsider).get(f"/projects/datasets/{dataset.pk}/"))


def test_a_file_of_another_format_is_refused_on_the_form(folder):
    upload = SimpleUploadedFile("notes.txt", b"a,b\n1,2\n")
    response = client_for(UserFactory()).post("/projects/datasets/upload/", {"name": "Bad", "file": upload})
    assert response.status_code == 400
    assert "notes.txt is not a CSV (.csv) or Parquet (.parquet) file" in text_of(response)
    assert not Job.objects.exists() and not Dataset.objects.exists() and files_in(folder) == []


@pytest.mark.parametrize("upload, message", [
    (SimpleUploadedFile("broken.parquet", b"PAR1 this is not parquet"), "The file could not be read as Parquet"),
    (SimpleUploadedFile("header.csv", b"a,b,c\n"), "The file has a header (a, b, c) but no rows."),
    (SimpleUploadedFile("latin.csv", "name\ncafé\n".encode("latin-1")), "The file is not text in UTF-8"),
])
def test_a_broken_file_fails_its_job_with_a_readable_reason_and_nothing_kept(folder, upload, message):
    c = client_for(UserFactory())
    response = c.post("/projects/datasets/upload/", {"name": "Bad", "file": upload})
    assert response.status_code == 302
    run_dataset_jobs()
    assert message in text_of(c.get(response["Location"]))
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_file_over_the_limit_is_refused_with_the_limit_in_the_message(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    upload = csv_upload(demo_data.delivery_times(300), "big.csv")
    response = client_for(UserFactory()).post("/projects/datasets/upload/", {"name": "Big", "file": upload})
    text = text_of(response)
    assert response.status_code == 400
    assert "datasets can be at most 2.0 KB" in text and "Sample it down" in text
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_file_in_the_data_folder_is_registered_by_its_name_and_a_wrong_name_is_explained(folder):
    demo_data.write_csv("card_fraud", folder / "payments" / "march.csv", rows=200)
    c = client_for(UserFactory())
    page = c.get("/projects/datasets/").content.decode()
    assert '<option value="payments/march.csv">' in page  # offered by name

    response = c.post("/projects/datasets/upload/", {"name": "Payments", "path": "payments/missing.csv"})
    assert response.status_code == 400 and "There is no file payments/missing.csv in the data folder" in text_of(response)
    response = c.post("/projects/datasets/upload/", {"name": "Payments", "path": "../../etc/passwd"})
    assert response.status_code == 400 and "is outside it" in text_of(response)
    response = c.post("/projects/datasets/upload/", {"name": "Payments"})
    assert response.status_code == 400 and "Upload a file or name one in the data folder" in text_of(response)
    assert not Dataset.objects.exists()

    response = c.post("/projects/datasets/upload/", {"name": "Payments", "path": "payments/march.csv"})
    assert response["Location"].startswith("/jobs/")
    run_dataset_jobs()
    dataset = Dataset.objects.get()
    assert dataset.rows == 200 and (folder / "payments" / "march.csv").is_file()


# --- model versions ---------------------------------------------------------------------------

@pytest.fixture
def two_versions(project, delivery):
    org, proj = project
    first = train(org, proj, delivery)
    second = train(org, proj, delivery, num_boost_round=80, learning_rate=0.1)
    return org, proj, first, second


def test_the_version_page_shows_metrics_charts_data_and_lineage(two_versions, settings):
    org, proj, first, version = two_versions
    response = client_for(org.outsider).get(f"/projects/versions/{version.pk}/")
    html, text = response.content.decode(), text_of(response)
    assert response.status_code == 200
    assert f"{proj.name} v{version.version}" in text and "LightGBM" in text and "regression of minutes" in text
    # Metrics, the key one first, and the two charts from the MLflow run.
    assert f"{version.metrics['mae']:.4g}" in text and f"{version.metrics['rmse']:.4g}" in text
    assert "predicting the training mean" in text
    assert html.count('class="plotly-graph-div"') == 2 and "/static/vendor/plotly/plotly.min.js" in html
    assert "valid MAE" in html or "validation MAE" in html
    assert "distance_km" in text and "Total gain" in text
    # Parameters, features, and the data it learnt from.
    assert "num_boost_round" in text and "80" in text and "zone" in text
    assert f'href="/projects/datasets/{version.dataset_id}/"' in html and version.dataset.sha256[:12] in text
    # Lineage: proposal, project, job, the MLflow run and version in the MLflow UI.
    run = mlflow_client.run_get(version.mlflow_run_id)
    ui = settings.MLFLOW_UI_URL.rstrip("/")
    assert f'href="/proposals/{proj.proposal_id}/"' in html and f'href="/projects/{proj.pk}/"' in html
    assert f'href="/jobs/{version.training_job_id}/"' in html
    assert f'href="{ui}/#/experiments/{run.info.experiment_id}/runs/{version.mlflow_run_id}"' in html
    assert f'href="{ui}/#/models/{proj.name}/versions/{version.version}"' in html
    # Aliases (none yet), who may move them, the compare picker and the history.
    assert "No alias of" in text
    assert f"Only the technical lead and the ML engineers of {proj} can move its aliases." in text
    assert 'id="alias-form"' not in html
    assert f'<option value="{first.pk}" selected>' in html
    assert "model_version.registered" in text

    # The dataset page now lists the versions trained on it.
    dataset_page = text_of(client_for(org.outsider).get(f"/projects/datasets/{version.dataset_id}/"))
    assert f"{proj.name} v{first.version}" in dataset_page and f"{proj.name} v{version.version}" in dataset_page
    # The job page links to the version it registered.
    job_page = client_for(org.lead).get(f"/jobs/{version.training_job_id}/").content.decode()
    assert f'href="/projects/versions/{version.pk}/"' in job_page and f"Open {proj.name} v{version.version}" in job_page


def test_a_version_page_without_its_mlflow_run_still_renders(project, delivery):
    org, proj = project
    version = ModelVersion.objects.create(registered_model=proj.models.get(), version=1, mlflow_run_id="no-such-run",
                                          dataset=delivery, metrics={"mae": 3.0}, params={"task": "regression"})
    response = client_for(org.lead).get(f"/projects/versions/{version.pk}/")
    assert response.status_code == 200
    assert "MLflow could not be read" in text_of(response) and "plotly-graph-div" not in response.content.decode()


def test_the_lead_and_ml_engineers_move_aliases_with_a_reason_others_are_told_why_not(two_versions):
    org, proj, first, second = two_versions
    page = client_for(org.lead).get(f"/projects/versions/{first.pk}/").content.decode()
    assert 'id="alias-form"' in page

    response = client_for(org.lead).post(f"/projects/versions/{first.pk}/aliases/",
                                         {"alias": "champion", "reason": "Beats the rules by two minutes."})
    assert response["Location"] == f"/projects/versions/{first.pk}/#aliases"
    assert flash(response) == [f"{first} is now the champion."]
    response = client_for(org.engineer).post(f"/projects/versions/{second.pk}/aliases/",
                                             {"alias": "champion", "reason": "Won the shadow week."})
    assert flash(response) == [f"{second} is now the champion."]

    teammate = UserFactory(username="teammate", function=Function.DATA_SCIENTIST)
    proj.team.add(teammate)
    response = client_for(teammate).post(f"/projects/versions/{first.pk}/aliases/",
                                         {"alias": "champion", "reason": "I like it"})
    assert flash(response) == [f"Only the technical lead and the ML engineers of {proj} can move its aliases."]
    response = client_for(org.lead).post(f"/projects/versions/{first.pk}/aliases/", {"alias": "champion", "reason": ""})
    assert flash(response) == ["Choose champion or challenger, and say why."]
    response = client_for(org.lead).post(f"/projects/versions/{second.pk}/aliases/",
                                         {"alias": "champion", "reason": "Again"})
    assert flash(response) == [f"{second} is already the champion."]
    assert AliasEvent.objects.count() == 2

    response = client_for(teammate).get(f"/projects/versions/{second.pk}/")
    text = text_of(response)
    assert "Only the technical lead and the ML engineers" in text and 'id="alias-form"' not in response.content.decode()
    assert "Won the shadow week." in text and "Beats the rules by two minutes." in text
    assert f"from v{first.version}" in text and org.engineer.display_name in text
    assert "Champion this version" in text
    project_page = client_for(teammate).get(f"/projects/{proj.pk}/").content.decode()
    assert 'class="badge alias-champion">champion' in project_page


def test_compare_shows_both_versions_side_by_side_with_the_differences_highlighted(two_versions):
    org, proj, first, second = two_versions
    response = client_for(org.outsider).get("/projects/versions/compare/", {"a": first.pk, "b": second.pk})
    html, text = response.content.decode(), text_of(response)
    assert response.status_code == 200
    assert f"{proj.name} v{first.version}" in text and f"{proj.name} v{second.version}" in text

    def row(name):
        match = re.search(rf'<tr class="([^"]*)">\s*<td[^>]*>{re.escape(name)}\b.*?</tr>', html, flags=re.S)
        assert match, name
        return match

    assert row("num_boost_round").group(1) == "changed" and row("learning_rate").group(1) == "changed"
    assert row("seed").group(1) == "" and row("target").group(1) == ""
    assert "40" in row("num_boost_round").group(0) and "80" in row("num_boost_round").group(0)
    mae = row("MAE")
    assert mae.group(1) == "changed" and "better" in mae.group(0)
    assert f"{first.metrics['mae']:.4g}" in mae.group(0) and f"{second.metrics['mae']:.4g}" in mae.group(0)
    assert "parameters and" in text and "differ" in text
    assert f'href="/projects/versions/compare/?a={second.pk}&amp;b={first.pk}"' in html  # swap

    same = client_for(org.outsider).get("/projects/versions/compare/", {"a": first.pk, "b": first.pk})
    assert same.status_code == 302 and flash(same) == ["Pick two different versions to compare."]
    bad = client_for(org.outsider).get("/projects/versions/compare/", {"a": "x"})
    assert bad.status_code == 302 and flash(bad) == ["Pick two model versions to compare."]
    assert client_for(org.outsider).get("/projects/versions/compare/", {"a": first.pk, "b": 99999}).status_code == 404


def test_the_team_stops_a_retraining_schedule_from_the_project_page(project, delivery):
    from django_celery_beat.models import PeriodicTask

    org, proj = project
    services.training_start(project=proj, dataset=delivery, target="minutes", features=DELIVERY_FEATURES,
                            task="regression", framework="lightgbm", by=org.lead, schedule="0 3 * * 1")
    model = proj.models.get()
    outsider = client_for(org.outsider)
    assert "Stop retraining" not in outsider.get(f"/projects/{proj.pk}/").content.decode()
    response = outsider.post(f"/projects/{proj.pk}/schedules/{model.pk}/stop/")
    assert flash(response) == [f"Only the technical lead and the team of {proj} can train its models."]
    assert PeriodicTask.objects.filter(task="workers.schedule_fire", name__startswith="schedule:retrain:").exists()

    lead = client_for(org.lead)
    assert "Stop retraining" in lead.get(f"/projects/{proj.pk}/").content.decode()
    response = lead.post(f"/projects/{proj.pk}/schedules/{model.pk}/stop/")
    assert response["Location"] == f"/projects/{proj.pk}/#schedules"
    assert flash(response) == [f"Scheduled retraining of {model.name} stopped."]
    assert not PeriodicTask.objects.filter(task="workers.schedule_fire", name__startswith="schedule:retrain:").exists()
    assert "None." in text_of(lead.get(f"/projects/{proj.pk}/"))
    response = lead.post(f"/projects/{proj.pk}/schedules/{model.pk}/stop/")
    assert flash(response) == [f"{model.name} has no retraining schedule."]


def test_the_chair_suspends_and_reinstates_from_the_project_page(project):
    from portal.tests.fixtures import client_for, flash, text_of

    org, proj = project
    assert "Suspend this project" not in text_of(client_for(org.lead).get(f"/projects/{proj.pk}/"))
    refused = client_for(org.lead).post(f"/projects/{proj.pk}/state/", {"action": "suspend", "rationale": "x"})
    assert any("Only the Council chair" in m for m in flash(refused))
    chair = client_for(org.chair)
    assert "Suspend this project" in text_of(chair.get(f"/projects/{proj.pk}/"))
    response = chair.post(f"/projects/{proj.pk}/state/", {"action": "suspend", "rationale": "Drift alert reviewed"})
    assert any("nothing new is deployed" in m for m in flash(response))
    page = text_of(chair.get(f"/projects/{proj.pk}/"))
    assert "Suspended by the Council chair: Drift alert reviewed" in page and "Reinstate this project" in page
    chair.post(f"/projects/{proj.pk}/state/", {"action": "reinstate", "rationale": "Pipeline fixed"})
    proj.refresh_from_db()
    assert proj.state == "active" and proj.state_rationale == "Pipeline fixed"
