"""The bell in a browser: a pod lead sees one unread notification, opens the list, follows the
notification to the proposal (it is then read), and chooses the daily digest; on a phone the bell
sits in the header and the preferences fold into one block per kind."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.models import NotificationPreference
from proposals.tests.factories import make_org, submitted_proposal
from tests.browser import PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_bell_leads_to_the_review_and_the_preferences_are_saved(browser, live_server):
    org = make_org()
    proposal = submitted_proposal(org, title="Predict delivery times")
    org.em.set_password("pw")
    org.em.save()

    page = person_page(browser, live_server, org.em)
    bell = page.locator("#bell")
    expect(bell.locator(".bell-count")).to_contain_text("1")
    screenshot(page, "notifications-bell", full_page=False)
    bell.click()
    expect(page.locator("main h1")).to_have_text("Notifications")
    expect(page.locator("#inbox li.unread")).to_have_count(1)
    expect(page.locator("#inbox")).to_contain_text("Your review: “Predict delivery times”")
    screenshot(page, "notifications-page")

    page.locator("#inbox").get_by_role("link", name="Predict delivery times").click()
    expect(page).to_have_url(f"{live_server.url}/proposals/{proposal.pk}/")
    expect(page.locator("#bell .bell-count")).to_have_count(0)

    page.goto(f"{live_server.url}/notifications/#preferences")
    page.get_by_role("row", name="A decision on a proposal I watch").get_by_role("radio", name="Daily digest").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".messages")).to_contain_text("Saved")
    assert NotificationPreference.objects.get(user=org.em, kind="watched_decision").channel == "digest"
    page.context.close()

    phone = person_page(browser, live_server, org.em, viewport=PHONE, next_path="/notifications/")
    expect(phone.locator("#bell")).to_be_visible()
    no_overflow(phone, "the notifications page on a phone")
    screenshot(phone, "notifications-phone")
    phone.context.close()
