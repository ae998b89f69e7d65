"""From a trained version to a live endpoint, in a real browser with a real worker and a real
serving process: an ML engineer deploys from the version page, sees the endpoint live, uses the
try-it box, adds a shadow and rolls back."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from registry import services as registry_services
from registry.tests.factories import approved_project, demo_dataset
from serving.models import Endpoint
from tests.browser import PHONE, person_page, screenshot
from tests.test_deploy_journey import _train
from tests.test_serving_process import Server
from workers.models import Job, JobState

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ENDPOINT = "delivery-eta"


def flash(page):
    return page.locator("ul.messages")


def live_row(page, role: str):
    return page.locator("#live tbody tr").filter(has=page.locator(".badge", has_text=re.compile(rf"^{role}$")))


def reload_until(page, check, *, timeout: float = 60.0, message: str) -> None:
    """Reload the page until ``check(page)`` holds: the endpoint page shows the live state at load."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check(page):
                return
        except AssertionError:
            raise
        except Exception:  # a reload racing the htmx poll; look again
            pass
        if time.monotonic() > deadline:
            jobs = list(Job.objects.filter(kind__startswith="deploy").values_list("pk", "state", "error"))
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}; the page shows:\n"
                                 f"{page.locator('main').inner_text()}\ndeploy jobs: {jobs}")
        time.sleep(0.5)
        page.reload()


def deploys_settled() -> bool:
    """Every deploy job has finished: the revision is published *and* the serving replica switched.

    The page shows a revision live once it is published, while its job still waits for the
    replicas; a request sent in that moment can miss.
    """
    jobs = list(Job.objects.filter(kind="deploy").values_list("pk", "state", "error"))
    failed = [job for job in jobs if job[1] in (JobState.FAILED, JobState.CANCELLED)]
    assert not failed, f"a deploy job failed: {failed}"
    return all(state == JobState.SUCCEEDED for _, state, _ in jobs)


def serves(role: str, version):
    def check(page):
        row = live_row(page, role)
        return (row.count() == 1 and f"v{version.version}" in row.inner_text()
                and not page.locator("p.notice").count() and deploys_settled())
    return check


def primary_is(version):
    return serves("primary", version)


@pytest.fixture
def journey(tmp_path, celery_worker_process, settings):
    org, project = approved_project()
    registry_services.registered_model_ensure_in_mlflow(model=project.models.get())
    dataset = demo_dataset(rows=600, by=org.lead)
    v1 = _train(org, project, dataset, num_boost_round=30, seed=1)
    v2 = _train(org, project, dataset, num_boost_round=60, seed=2)
    server = Server(tmp_path, tmp_path / "unused.json",
                    {"SERVING_MANIFEST_SOURCE": "serving.manifest.manifest_from_database",
                     "SERVING_RECONCILE_SECONDS": "2"})
    # The live server runs in this process, so the try-it box's proxy follows the override.
    settings.SERVING_URL = f"http://127.0.0.1:{server.port}"
    org.engineer.set_password("pw")
    org.engineer.save()
    assert project.team.filter(pk=org.engineer.pk).exists()
    yield org, project, v1, v2, server
    server.stop()


def test_an_ml_engineer_deploys_tries_shadows_and_rolls_back(browser, live_server, journey):
    org, project, v1, v2, server = journey
    page = person_page(browser, live_server, org.engineer, next_path=f"/projects/versions/{v1.pk}/")

    # --- the version page: its Deployments card, loaded by htmx --------------------------------
    expect(page.get_by_role("heading", name=f"{project.name} v{v1.version}")).to_be_visible()
    card = page.locator("#deployments.deploy-panel")
    expect(card).to_contain_text("This version serves nowhere now.")
    expect(card.get_by_label("To the endpoint")).to_have_value("__new__")
    card.get_by_label("To the endpoint").select_option(label="A new endpoint…")
    card.get_by_label("New endpoint's name").fill(ENDPOINT)
    card.scroll_into_view_if_needed()
    screenshot(page, "deploy-version-deployments-card")
    card.get_by_role("button", name="Deploy…").click()

    # --- the confirmation page says what will change --------------------------------------------
    expect(page).to_have_url(re.compile(rf"/deployments/versions/{v1.pk}/deploy/\?"))
    expect(page.get_by_role("heading", name="What will change")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"A new endpoint {ENDPOINT} is created")
    assert not Endpoint.objects.exists(), "nothing should change before the confirmation"
    page.get_by_label("Why (kept in the endpoint's history)").fill("First model beats the rule of thumb")
    screenshot(page, "deploy-confirm")
    page.get_by_role("button", name=re.compile(rf"^Deploy .*v{v1.version}$")).click()

    # --- the endpoint page: live once the deploy job has checked and published it ----------------
    expect(page).to_have_url(re.compile(rf"/deployments/endpoints/{ENDPOINT}/$"))
    expect(flash(page)).to_contain_text(f"Deploying {v1}")
    reload_until(page, primary_is(v1), timeout=90, message="v1 to be the live primary")
    history = page.locator("#history")
    expect(history).to_contain_text("Revision 1")
    expect(history).to_contain_text("First model beats the rule of thumb")

    # --- try it: the portal sends the example body to the serving process ----------------------
    try_box = page.locator("#try")
    expect(try_box.locator("#try-body")).to_contain_text('"instances"')
    page.evaluate("window.stillTheSamePage = true")
    try_box.get_by_role("button", name="Send").click()
    reply = page.locator("#try-reply")
    expect(reply.locator(".badge")).to_have_text("200", timeout=20_000)
    expect(reply.locator("pre")).to_contain_text('"predictions": [')
    expect(reply.locator("pre")).to_contain_text(f'"model_version": {v1.version}')
    assert page.evaluate("window.stillTheSamePage === true")  # answered in place, by htmx
    screenshot(page, "deploy-endpoint-try-it")

    # --- a shadow: v2 scores every request in the background ------------------------------------
    actions = page.locator("#actions")
    shadow_form = actions.locator("form", has=page.get_by_role("heading", name="Add a shadow"))
    shadow_form.get_by_label("Shadow version").select_option(value=str(v2.pk))
    shadow_form.get_by_label("Reason").fill("Shadow v2 for a week")
    shadow_form.get_by_role("button", name="Add shadow").click()
    expect(flash(page)).to_contain_text("Deploy job #")

    reload_until(page, serves("shadow", v2), timeout=90, message="v2 to be a live shadow")
    assert primary_is(v1)(page)

    # --- v2 as primary, then roll back to v1 -----------------------------------------------------
    deploy_form = page.locator("#actions form", has=page.get_by_role("heading", name="Deploy a version as primary"))
    deploy_form.get_by_label("Version to deploy").select_option(value=str(v2.pk))
    deploy_form.get_by_label("Reason").fill("v2 agreed with v1 in shadow")
    page.once("dialog", lambda dialog: dialog.accept())
    deploy_form.get_by_role("button", name="Deploy", exact=True).click()
    expect(flash(page)).to_contain_text("Deploy job #")
    reload_until(page, primary_is(v2), timeout=90, message="v2 to be the live primary")

    rollback_form = page.locator("#actions form", has=page.get_by_role("heading", name="Roll back"))
    rollback_form.get_by_label("Reason").fill("v2 is slow at peak")
    page.once("dialog", lambda dialog: dialog.accept())
    rollback_form.get_by_role("button", name="Roll back").click()
    expect(flash(page)).to_contain_text("Deploy job #")
    reload_until(page, primary_is(v1), timeout=90, message="v1 to be the live primary again")

    items = page.locator("#history li")
    expect(items).to_have_count(4)
    expected = [  # newest first
        ("Revision 4", "v2 is slow at peak"),
        ("Revision 3", "v2 agreed with v1 in shadow"),
        ("Revision 2", "Shadow v2 for a week"),
        ("Revision 1", "First model beats the rule of thumb"),
    ]
    for item, (number, reason) in zip(items.all(), expected):
        expect(item).to_contain_text(number)
        expect(item.locator(".said").first).to_have_text(f"“{reason}”")
    expect(items.first).to_contain_text(f"primary v{v1.version}")
    screenshot(page, "deploy-endpoint-rolled-back")

    # --- the API agrees ----------------------------------------------------------------------------
    api = APIClient()
    api.force_authenticate(org.engineer)
    body = api.get(f"/api/v1/endpoints/{ENDPOINT}/").json()
    assert body["live"]["primary"]["model_version"] == v1.pk, body
    status, answer = server.request("POST", f"/v1/models/{ENDPOINT}:predict", {"instances": [
        {"distance_km": 4.2, "items": 3, "hour": 18, "weekday": 4, "courier_load": 0.7, "raining": 0, "zone": "north"}]})
    assert status == 200 and answer["model_version"] == v1.version, answer

    # --- the endpoint page on a phone --------------------------------------------------------------
    phone = person_page(browser, live_server, org.engineer, next_path=f"/deployments/endpoints/{ENDPOINT}/",
                        viewport=PHONE)
    expect(phone.locator("#live")).to_contain_text(f"v{v1.version}")
    screenshot(phone, "deploy-phone-endpoint")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the endpoint page is {overflow}px wider than a phone"
    phone.context.close()
    page.context.close()
