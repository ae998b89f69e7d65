"""The five lists in a browser, at laptop and phone width: a search, the "Mine" toggle and a sort
header, and the link of the resulting view opens the same view for someone else."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.tests.factories import UserFactory
from proposals.models import Proposal, ProposalState, TeamMember
from registry.models import Dataset, MLProject, ModelVersion, RegisteredModel
from tests.browser import DESKTOP, PHONE, no_overflow, person_page, screenshot
from workers.models import Job, JobState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    ada = UserFactory(username="ada", full_name="Ada Lovelace")
    grace = UserFactory(username="grace", full_name="Grace Hopper")
    for user in (ada, grace):
        user.set_password("pw")
        user.save()
    titles = ["Delivery time prediction", "Churn prediction", "Fraud screening with a rather long title to wrap"]
    for n, title in enumerate(titles):
        owner = ada if n != 1 else grace
        proposal = Proposal.objects.create(title=title, author=owner, technical_lead=owner, state=ProposalState.APPROVED,
                                           business_problem="Customers wait.")
        TeamMember.objects.create(proposal=proposal, user=grace if owner == ada else ada)
        project = MLProject.objects.create(proposal=proposal, name=f"project-{n}", title=title, owner=owner)
        project.team.add(owner)
        dataset = Dataset.objects.create(name=f"orders {n}", path=f"by-sha256/{n:064d}.csv", sha256=f"{n:064d}",
                                         format="csv", size_bytes=10_000 * (n + 1), rows=100 * (n + 1), schema=[],
                                         preview={}, uploaded_by=owner)
        model = RegisteredModel.objects.create(project=project, name=f"project-{n}-model")
        training = Job.objects.create(kind="training", queue="training", state=JobState.SUCCEEDED, progress=100,
                                      started_by=owner, object_type="mlproject", object_id=str(project.pk),
                                      message="Registered", params={"config_id": n + 1})
        version = ModelVersion.objects.create(
            registered_model=model, version=1, mlflow_run_id=f"run{n}", dataset=dataset, training_job=training,
            metrics={"auc": 0.8 + n / 100, "log_loss": 0.4} if n != 0 else {"mae": 6.5, "rmse": 8.0},
            params={"task": "binary" if n != 0 else "regression", "framework": "lightgbm"}, created_by=owner)
        training.result = {"model_version": {"id": version.pk, "name": model.name, "version": 1},
                           "metrics": version.metrics}
        training.save()
    return ada, grace


LISTS = [
    ("proposals", "/proposals/", "lovelace"),
    ("projects", "/projects/", "prediction"),
    ("models", "/projects/versions/", "auc"),
    ("datasets", "/projects/datasets/", "orders"),
    ("jobs", "/jobs/", "training"),
]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["laptop", "phone"])
def test_search_mine_and_sort_through_the_page_and_share_the_link(browser, live_server, viewport):
    ada, grace = _world()
    page = person_page(browser, live_server, ada, viewport=viewport)
    for name, path, words in LISTS:
        page.goto(live_server.url + path)
        search = page.locator("form.filters input[name=q]")
        search.fill(words)
        page.locator("form.filters input[name=mine]").check()
        with page.expect_navigation():
            search.press("Enter")
        page.wait_for_load_state("networkidle")
        assert "q=" in page.url and "mine=1" in page.url, f"{name}: {page.url}"
        rows = page.locator("table tbody tr")
        expect(rows.first).to_be_visible()
        # A phone hides some lists' headers; their sort bar says the same.
        header = page.locator("th a.sort-link:visible, .sort-bar a.sort-link:visible").first
        with page.expect_navigation():
            header.click()
        expect(page.locator("a.sort-link.active:visible")).to_have_count(1)
        assert "sort=" in page.url and "q=" in page.url and "mine=1" in page.url, f"{name}: {page.url}"
        expect(page.locator("form.filters input[name=q]")).to_have_value(words)
        no_overflow(page, f"the {name} list at {viewport['width']}px")
        screenshot(page, f"list-{name}-{viewport['width']}")
        shared = page.url
        other = person_page(browser, live_server, grace, next_path="/", viewport=viewport)
        other.goto(shared)
        expect(other.locator("a.sort-link.active:visible")).to_have_count(1)
        expect(other.locator("form.filters input[name=q]")).to_have_value(words)
        other.context.close()
    page.goto(live_server.url + "/jobs/")
    page.locator("td.job-name a").first.click()
    expect(page.locator("main h1")).to_contain_text("Training of")
    no_overflow(page, f"a training job at {viewport['width']}px")
    screenshot(page, f"job-training-{viewport['width']}")
    page.context.close()
