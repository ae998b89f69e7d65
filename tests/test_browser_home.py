"""The home page in a browser: a pod lead sees what waits for them first; on a phone the
sections fold behind a menu button that carries the same count."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from proposals.tests.factories import make_org, submitted_proposal
from tests.browser import PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pod_lead_sees_the_review_waiting_and_the_phone_menu_folds(browser, live_server):
    org = make_org()
    proposal = submitted_proposal(org, title="Predict delivery times")
    org.em.set_password("pw")
    org.em.save()

    page = person_page(browser, live_server, org.em)
    expect(page.locator("#my-queue")).to_contain_text("1 pod review to do")
    expect(page.locator(".sidebar .nav-badge").first).to_have_text("1")
    screenshot(page, "home-pod-lead")
    page.locator("#my-queue").get_by_role("link", name="Open my queue").click()
    expect(page.locator("main")).to_contain_text(proposal.title)
    page.context.close()

    phone = person_page(browser, live_server, org.em, viewport=PHONE)
    nav = phone.locator("#main-nav")
    expect(nav).to_be_hidden()
    menu = phone.get_by_role("button", name="Menu")
    expect(menu).to_contain_text("1")
    no_overflow(phone, "the home page on a phone")
    screenshot(phone, "home-pod-lead-phone")
    menu.click()
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Proposals").click()
    expect(phone.locator("main h1")).to_contain_text("Proposals")
    phone.context.close()
