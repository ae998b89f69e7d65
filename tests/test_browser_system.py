"""A person signs in, runs the system check from the System page and watches it finish, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.tests.factories import UserFactory
from tests.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COMPONENTS = {"database", "redis", "broker", "mlflow", "serving", "queue:default", "queue:training", "queue:deploy",
              "queue:monitoring"}


def test_sign_in_run_the_system_check_and_read_its_job(page, live_server, celery_worker_process):
    UserFactory(username="grace", full_name="Grace Hopper", password="compiler-1952")

    page.goto(f"{live_server.url}/jobs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/jobs/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")

    login(page, live_server, "grace", "compiler-1952", next_path="/jobs/")
    expect(page).to_have_url(f"{live_server.url}/jobs/")
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="System").click()
    expect(page).to_have_url(f"{live_server.url}/system/")
    expect(page.get_by_role("link", name="System")).to_have_attribute("aria-current", "page")
    region = page.locator("#system-check")
    expect(region).to_have_attribute("data-state", "none")
    expect(region).to_contain_text("No system check has run yet")

    with page.expect_navigation():
        page.get_by_role("button", name="Run system check").click()
    expect(page.get_by_role("button", name="Checking…")).to_be_disabled()
    # Marks this document: if it is still there when the check has finished, htmx updated the
    # region in place and the person never had to reload.
    page.evaluate("window.stillTheSamePage = true")
    screenshot(page, "system-check-running")

    expect(region).to_have_attribute("data-state", "succeeded", timeout=90_000)
    assert page.evaluate("window.stillTheSamePage === true")
    expect(region).to_contain_text("Every component answered.")
    expect(region.get_by_role("button", name="Run system check")).to_be_enabled()

    rows = region.locator("#system-checks tbody tr")
    expect(rows).to_have_count(len(COMPONENTS))
    statuses = {
        rows.nth(i).locator("td").nth(0).inner_text().strip(): rows.nth(i).locator("td").nth(1).inner_text().strip()
        for i in range(rows.count())
    }
    assert statuses == {name: "OK" for name in COMPONENTS}, statuses
    screenshot(page, "system-check")

    region.get_by_role("link", name=re.compile(r"^job #\d+$")).click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    expect(page.get_by_role("heading", name=re.compile(r"^System check #\d+$"))).to_be_visible()
    expect(page.locator("#job-live")).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#job-progress")).to_have_text("100%")
    log = page.locator("#job-log")
    expect(log).to_contain_text("database: ok")
    expect(log).to_contain_text("mlflow: ok")
    screenshot(page, "system-check-job")
