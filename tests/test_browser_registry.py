"""From an approved proposal to a trained model version, in a real browser with a real worker:
a data scientist on the project's team uploads a dataset, starts a LightGBM training from the
project page, watches it to the end and opens the version it registered. Then every registry
page, at desktop and phone width, fits the screen."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.models import Function
from portal.tests.factories import UserFactory
from proposals.tests.factories import make_org
from registry import demo_data, services
from registry.models import Dataset, ModelVersion, TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, csv_upload
from registry.training import training_run
from tests.browser import DESKTOP, PHONE, no_overflow, person_page, screenshot
from workers.models import Job, JobState
from workers.runtime import JobRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.integration
def test_a_data_scientist_uploads_a_dataset_trains_a_model_and_opens_the_new_version(
        browser, live_server, celery_worker_process, tmp_path):
    org, project = approved_project(make_org())
    scientist = UserFactory(username="dana", full_name="Dana Okafor", function=Function.DATA_SCIENTIST, pod=org.pod)
    project.team.add(scientist)
    scientist.set_password("pw")
    scientist.save()
    csv = demo_data.write_csv("delivery_times", tmp_path / "deliveries-march.csv", rows=1500, seed=11)
    url = live_server.url

    page = person_page(browser, live_server, scientist, next_path="/projects/")
    expect(page.get_by_role("heading", name="Projects & Models")).to_be_visible()
    expect(page.locator(".project-table")).to_contain_text(project.title)
    expect(page.locator(".project-table")).to_contain_text("Never trained")

    # --- the dataset: a broken file first, then the real one -----------------------------------
    page.get_by_role("link", name="Datasets").first.click()
    expect(page.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()
    form = page.locator("#register")
    form.get_by_label("Name").fill("Deliveries March")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"distance_km,minutes\n")
    form.get_by_label("File to upload").set_input_files(str(broken))
    form.get_by_role("button", name="Register").click()
    # The upload returns at once: a job on the worker reads the file and says why it cannot be used.
    expect(page.locator("ul.messages")).to_contain_text("Upload received: checking broken.csv…")
    expect(page.locator("#job-live")).to_have_attribute("data-state", "failed", timeout=60_000)
    expect(page.locator("#job-message")).to_contain_text("The file has a header (distance_km, minutes) but no rows.")
    assert not Dataset.objects.exists()
    screenshot(page, "registry-dataset-refused")

    page.goto(f"{url}/projects/datasets/")
    form = page.locator("#register")
    form.get_by_label("Name").fill("Deliveries March")
    form.get_by_label("File to upload").set_input_files(str(csv))
    form.get_by_role("button", name="Register").click()
    expect(page.locator("ul.messages")).to_contain_text("Upload received: checking deliveries-march.csv…")
    expect(page.get_by_role("heading", name="Dataset registration of Deliveries March")).to_be_visible()
    expect(page.locator("#job-live")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    screenshot(page, "registry-dataset-checked")
    page.locator("#job-result-link").click()
    expect(page).to_have_url(re.compile(r"/projects/datasets/\d+/$"))
    expect(page.get_by_role("heading", name="Deliveries March")).to_be_visible()
    dataset = Dataset.objects.get()
    assert dataset.rows == 1500 and len(dataset.schema) == 8
    expect(page.locator("#identity")).to_contain_text(dataset.sha256)
    expect(page.locator("#schema")).to_contain_text("courier_load")
    expect(page.locator("#preview tbody tr")).to_have_count(10)
    screenshot(page, "registry-dataset")

    # --- the project page: pick the data, the columns fill in, start LightGBM -----------------
    page.goto(f"{url}/projects/")
    page.get_by_role("link", name=project.title).click()
    expect(page.get_by_role("heading", name=project.title)).to_be_visible()
    expect(page.locator("#models")).to_contain_text("No versions yet")
    train = page.locator("#train-form")
    expect(train.locator("#columns-hint")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    train.get_by_label("Dataset").select_option(value=str(dataset.pk))
    expect(train.get_by_label("Target column")).to_have_value("minutes")
    expect(train.get_by_label("Task")).to_have_value("regression")
    expect(train.get_by_label("zone is categorical")).to_be_checked()
    expect(train.get_by_label("distance_km is a feature")).to_be_checked()
    assert page.evaluate("window.stillTheSamePage === true")  # filled in place, by htmx
    expect(train.locator(".params-torch")).to_be_hidden()
    expect(train.locator(".params-lightgbm")).to_contain_text("Default 300.")
    train.get_by_label("Boosting rounds").fill("80")
    train.get_by_label("Seed").fill("11")
    screenshot(page, "registry-train-form")
    train.get_by_role("button", name="Start training").click()

    # --- the job page follows the training to the end ------------------------------------------
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    expect(page.locator("ul.messages")).to_contain_text("Training started: LightGBM on Deliveries March.")
    job = Job.objects.get(kind="training")
    first_seen = int(page.locator("#job-progress").inner_text().rstrip("%"))
    expect(page.locator("#job-live")).to_have_attribute("data-state", "succeeded", timeout=180_000)
    expect(page.locator("#job-progress")).to_have_text("100%")
    assert first_seen < 100, "the page should have shown the job before it finished"
    version = ModelVersion.objects.get()
    expect(page.locator("#job-live")).to_contain_text(f"Open {project.name} v{version.version}")
    screenshot(page, "registry-training-job")
    config = TrainingConfig.objects.get()
    assert config.created_by == scientist and config.params["num_boost_round"] == 80 and config.seed == 11
    assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED

    # --- the new version: metrics, charts, lineage ---------------------------------------------
    page.locator("#new-version-link").click()
    expect(page).to_have_url(re.compile(rf"/projects/versions/{version.pk}/$"))
    expect(page.get_by_role("heading", name=f"{project.name} v{version.version}")).to_be_visible()
    metrics = page.locator("#metrics")
    expect(metrics).to_contain_text(f"{version.metrics['mae']:.4g}")
    expect(metrics).to_contain_text("predicting the training mean")
    expect(page.locator("#training-curve .plotly-graph-div .main-svg").first).to_be_attached()
    expect(page.locator("#feature-importance .plotly-graph-div .main-svg").first).to_be_attached()
    expect(page.locator("#feature-importance")).to_contain_text("distance_km")
    lineage = page.locator("#lineage")
    for href in (f"/proposals/{project.proposal_id}/", f"/projects/{project.pk}/", f"/jobs/{job.pk}/",
                 f"/projects/datasets/{dataset.pk}/"):
        expect(lineage.locator(f'a[href="{href}"]')).to_be_visible()
    expect(lineage.locator(f'a[href*="/runs/{version.mlflow_run_id}"]')).to_be_visible()
    # A data scientist trains, but only the lead and the ML engineers move aliases.
    expect(page.locator("#alias-refusal")).to_contain_text("Only the technical lead and the ML engineers")
    screenshot(page, "registry-version")

    page.goto(f"{url}/projects/{project.pk}/")
    expect(page.locator("#models")).to_contain_text(f"v{version.version}")
    expect(page.locator("#training-jobs")).to_contain_text(f"Registered v{version.version}")
    screenshot(page, "registry-project-trained")
    page.context.close()


def _train_in_process(org, project, dataset, **params) -> ModelVersion:
    job = services.training_start(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                                  task="regression", framework=params.pop("framework", "lightgbm"), seed=3,
                                  by=org.lead, params=params)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    result = training_run(JobRun(job))
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, progress=100, result=result, finished_at=timezone.now(),
                                         message="Done")
    return ModelVersion.objects.get(pk=result["model_version"]["id"])


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_registry_page_fits_the_screen(browser, live_server, size):
    org = make_org()
    for user in (org.lead, org.outsider):
        user.set_password("pw")
        user.save()
    viewport = DESKTOP if size == "desktop" else PHONE
    lead = person_page(browser, live_server, org.lead, viewport=viewport)
    outsider = person_page(browser, live_server, org.outsider, viewport=viewport)
    url = live_server.url

    def check(page, path: str, name: str):
        response = page.goto(url + path)
        assert response.status == 200, (path, response.status)
        expect(page.locator("main h1")).to_be_visible()
        if page.locator(".plotly-graph-div").count():
            expect(page.locator(".plotly-graph-div .main-svg").first).to_be_attached()
        screenshot(page, f"registry-{size}-{name}")
        no_overflow(page, f"{path} ({size})")

    check(lead, "/projects/", "projects-empty")
    check(lead, "/projects/datasets/", "datasets-empty")

    _, project = approved_project(org)
    dataset = services.dataset_register(name="Deliveries March", by=org.lead,
                                        uploaded_file=csv_upload(demo_data.delivery_times(600, seed=2), "deliveries-march.csv"))
    first = _train_in_process(org, project, dataset, num_boost_round=40)
    second = _train_in_process(org, project, dataset, framework="torch", epochs=8)
    services.model_version_alias_set(version=first, alias="champion", reason="First model; beats the rule of thumb.",
                                     by=org.lead)
    services.model_version_alias_set(version=second, alias="challenger", reason="Shadow it for a week against the champion.",
                                     by=org.engineer)
    services.training_start(project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES,
                            task="regression", framework="lightgbm", by=org.lead, schedule="0 3 * * 1")

    check(lead, "/projects/", "projects")
    check(lead, f"/projects/{project.pk}/", "project")
    check(lead, f"/projects/{project.pk}/?dataset={dataset.pk}", "project-train-form")
    check(outsider, f"/projects/{project.pk}/", "project-outsider")
    check(lead, "/projects/datasets/", "datasets")
    check(lead, f"/projects/datasets/{dataset.pk}/", "dataset")
    check(lead, f"/projects/versions/{first.pk}/", "version-lightgbm")
    check(outsider, f"/projects/versions/{second.pk}/", "version-torch-outsider")
    check(lead, f"/projects/versions/compare/?a={first.pk}&b={second.pk}", "compare")
    check(lead, f"/jobs/{first.training_job_id}/", "training-job")
    lead.context.close()
    outsider.context.close()
