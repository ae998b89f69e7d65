"""The people directory and a person's page in a browser, at laptop and phone width: the search
narrows the table, the person's open duties show, and nothing is wider than the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal import people
from portal.models import Function
from portal.tests.factories import CouncilMembershipFactory, PodFactory, PodLeadFactory, UserFactory
from tests.browser import DESKTOP, PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    admin = UserFactory(username="ada", full_name="Ada Lovelace", is_staff=True)
    admin.set_password("pw")
    admin.save()
    delivery, payments = PodFactory(name="Delivery"), PodFactory(name="Payments")
    alice = UserFactory(username="alice", full_name="Alice Moreau", function=Function.PM, pod=delivery)
    PodLeadFactory(pod=delivery, function=Function.PM, user=alice)
    CouncilMembershipFactory(user=alice)
    people.person_update(actor=admin, user=alice, email="alice.moreau@example.com")
    people.pod_lead_set(actor=admin, pod=payments, function=Function.ANALYTICS_MANAGER, user=alice)
    UserFactory(username="heidi", full_name="Heidi Hart", function=Function.DS_MANAGER, pod=payments)
    for n in range(8):
        UserFactory(username=f"person{n}", full_name=f"Person Number {n}", pod=delivery)
    return admin


@pytest.mark.parametrize("viewport,label", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_people_directory_and_a_person_page(browser, live_server, viewport, label):
    admin = _world()
    page = person_page(browser, live_server, admin, next_path="/people/", viewport=viewport)

    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Add a person")).to_be_visible()
    no_overflow(page, f"/people/ at {label} width")
    screenshot(page, f"people-list-{label}")

    page.get_by_label("Search people").fill("payments")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Heidi Hart")).to_be_visible()
    expect(page.get_by_role("link", name="Alice Moreau")).to_have_count(0)

    page.goto(f"{live_server.url}/people/alice/")
    expect(page.get_by_role("heading", name="Open duties")).to_be_visible()
    expect(page.locator("#open-duties")).to_contain_text("Delivery: Product manager lead")
    expect(page.locator("#audit-timeline")).to_contain_text("Ada Lovelace updated Alice Moreau (email)")
    expect(page.get_by_role("link", name="Deactivate…")).to_be_visible()
    no_overflow(page, f"/people/alice/ at {label} width")
    screenshot(page, f"person-detail-{label}")

    page.get_by_role("link", name="Deactivate…").click()
    expect(page.get_by_role("heading", name="Deactivate Alice Moreau?")).to_be_visible()
    no_overflow(page, f"deactivation at {label} width")
    screenshot(page, f"person-deactivate-{label}")

    for path, name in (("/pods/", "pods"), ("/council/members/", "council-members"), ("/people/new/", "person-add")):
        page.goto(f"{live_server.url}{path}")
        no_overflow(page, f"{path} at {label} width")
        screenshot(page, f"{name}-{label}")
