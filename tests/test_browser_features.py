"""A feature view from the form to a lookup, in a real browser: an ML engineer on the project's
team defines a view of a registered dataset, opens its page, looks up a store and sees its
current values; the pages fit a phone's screen."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from playwright.sync_api import expect

from registry import services as registry_services
from registry.tests.factories import approved_project, csv_upload
from serving.feature_store.spec import entity_text
from serving.feature_store.tiers import tier
from serving.models import FeatureView
from tests.browser import PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def store_sales(stores: int = 40, days: int = 3) -> pd.DataFrame:
    rows = [(store, f"2026-11-{day + 1:02d} 06:00:00", 1000.0 + store * 10 + day, day % 2 == 0, ["north", "south"][store % 2])
            for day in range(days) for store in range(1, stores + 1)]
    return pd.DataFrame(rows, columns=["store_id", "event_time", "sales_7d", "open", "region"])


@pytest.fixture
def job_kinds(monkeypatch):
    """The feature job kinds, where their handlers are not registered in this process. No worker
    runs here: a started job stays queued, and nothing is sent to the broker for a later test's
    worker to find."""
    from workers import kinds, services

    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)

    for name, label in (("feature_materialize", "Feature materialization"), ("feature_move", "Feature view move")):
        if name not in kinds._KINDS:
            monkeypatch.setitem(kinds._KINDS, name, kinds.JobKind(name=name, label=label, queue="default",
                                                                  handler="tests.jobkinds.sleep_run"))


def test_a_team_member_defines_a_view_and_looks_up_an_entity(browser, live_server, job_kinds):
    org, project = approved_project()
    engineer = org.engineer
    engineer.set_password("pw")
    engineer.save()
    registry_services.dataset_register(name="Store sales", by=engineer, project=project,
                                       uploaded_file=csv_upload(store_sales(), "store_sales.csv"))

    page = person_page(browser, live_server, engineer, next_path="/features/")
    expect(page.get_by_role("heading", name="No feature views yet")).to_be_visible()
    page.locator("main").get_by_role("link", name="New feature view").click()

    page.get_by_label("Name").fill("store_daily")
    page.get_by_label("Project").select_option(label=project.title)
    page.get_by_label("Source dataset").select_option(label="Store sales · 120 rows")
    # The dataset's columns appear under the picker, to name the key, the time and the features.
    expect(page.locator("#source-columns")).to_contain_text("5 columns in Store sales")
    page.get_by_label("Entity key").fill("store_id")
    page.get_by_label("Event time column").fill("event_time")
    page.get_by_role("button", name="Use every other column as a feature").click()
    expect(page.get_by_label("Features")).to_have_value("sales_7d:float\nopen:bool\nregion:string")
    page.get_by_label("Serve each value for").fill("30")
    page.get_by_label("Unit").select_option("days")
    page.get_by_label("Description").fill("Each store's sales over the last seven days.")
    screenshot(page, "feature-view-form")
    page.get_by_role("button", name="Define the view").click()

    expect(page.locator("ul.messages")).to_contain_text("Feature view store_daily is defined.")
    expect(page.get_by_role("heading", name="store_daily")).to_be_visible()
    expect(page.locator("#schema")).to_contain_text("sales_7d")
    expect(page.locator("#freshness")).to_contain_text("Never materialized")
    expect(page.locator("#actions")).to_contain_text("Materialize now")

    # What a materialization would load, written into the tier directly.
    view = FeatureView.objects.get(name="store_daily")
    spec = view.spec()
    event_time = time.time() - 3 * 3600
    try:
        tier("redis").write(spec, [(entity_text(store), spec.codec.pack([1000.0 + store * 10, True, "north"], event_time),
                                    event_time) for store in range(1, 41)])
        FeatureView.objects.filter(pk=view.pk).update(materialized_until=event_time,
                                                      last_materialized_at=view.created_at)
        page.reload()
        expect(page.locator("#online-copy")).to_contain_text("40")
        expect(page.locator("#online-copy")).to_contain_text("single-entity reads")
        page.get_by_role("link", name="Measure again").click()
        expect(page.locator("#online-copy")).to_contain_text("40 single-entity reads")

        page.get_by_label("store_id").fill("7")
        page.get_by_role("button", name="Look up").click()
        result = page.locator("#lookup-result")
        expect(result).to_contain_text("1070.0")
        expect(result).to_contain_text("north")
        expect(result).to_contain_text("3 hours ago")
        screenshot(page, "feature-view-page")

        page.get_by_label("store_id").fill("999")
        page.get_by_role("button", name="Look up").click()
        expect(result).to_contain_text("No value for store_id 999")
        screenshot(page, "feature-view-lookup-missing", full_page=False)

        page.get_by_role("link", name="Move to SQL tier…").click()
        expect(page.get_by_role("heading", name="Move store_daily to the SQL tier?")).to_be_visible()
        screenshot(page, "feature-view-move-confirm")

        # Changing the layout of a loaded view asks first: its online values would be deleted.
        page.goto(f"{live_server.url}/features/store_daily/")
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Features").fill("sales_7d:float\nregion:string")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("main")).to_contain_text("Saving clears the view's online values.")
        screenshot(page, "feature-view-edit-confirm", full_page=False)
        page.get_by_role("link", name="Cancel").first.click()
        expect(page.locator("#schema")).to_contain_text("open")

        page.get_by_role("button", name="Materialize now").click()
        expect(page.locator("ul.messages")).to_contain_text("Materialize job #")
        expect(page.locator("#job-notice")).to_contain_text("Materializing")
        expect(page.locator("#jobs")).to_contain_text("Materialize #")
        screenshot(page, "feature-view-materializing", full_page=False)

        page.goto(f"{live_server.url}/features/")
        expect(page.locator(".feature-view-table")).to_contain_text("store_daily")
        screenshot(page, "feature-view-list")

        phone = person_page(browser, live_server, engineer, next_path="/features/store_daily/?entity=7", viewport=PHONE)
        expect(phone.locator("#lookup-result")).to_contain_text("1070.0")
        no_overflow(phone, "the feature view page")
        screenshot(phone, "feature-view-phone")
        phone.goto(f"{live_server.url}/features/new/")
        no_overflow(phone, "the new feature view form")
        phone.context.close()
    finally:
        tier("redis").delete_view(spec)


def test_someone_outside_the_team_reads_a_view_while_its_tier_is_down(browser, live_server, settings):
    from serving.feature_store import services
    from serving.feature_store.tiers import _redis_client

    org, project = approved_project()
    outsider = org.outsider
    outsider.set_password("pw")
    outsider.save()
    page = person_page(browser, live_server, outsider, next_path="/features/")
    expect(page.get_by_role("heading", name="No feature views yet")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("New feature view")
    screenshot(page, "feature-view-list-empty")

    dataset = registry_services.dataset_register(name="Store sales", by=org.lead, project=project,
                                                 uploaded_file=csv_upload(store_sales(), "store_sales.csv"))
    services.feature_view_create(by=org.lead, project=project, name="store_daily", entity_key="store_id",
                                 features=[{"name": "sales_7d", "type": "float"}], source=dataset,
                                 event_time_column="event_time")
    settings.FEATURE_STORE_REDIS_URL = "redis://127.0.0.1:1/0"
    _redis_client.cache_clear()
    try:
        page.goto(f"{live_server.url}/features/store_daily/")
        expect(page.locator("#online-copy")).to_contain_text("The Redis feature tier is unreachable")
        expect(page.locator("#actions")).to_contain_text(f"Only the technical lead and the team of {project}")
        page.get_by_label("store_id").fill("7")
        page.get_by_role("button", name="Look up").click()
        expect(page.locator("#lookup-result")).to_contain_text("The Redis feature tier is unreachable")
        screenshot(page, "feature-view-tier-down")
    finally:
        _redis_client.cache_clear()
