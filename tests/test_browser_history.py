"""History in a browser: a proposal's and an endpoint's timelines read as sentences at laptop and
phone width, with folded repeats and the raw event one click away."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from proposals import services as proposal_services
from tests.browser import ARTIFACTS, DESKTOP, PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _proposal_with_history():
    from proposals.tests.factories import make_org, submitted_proposal

    org = make_org()
    proposal = submitted_proposal(org, title="Predict delivery times")
    for n in range(3):
        proposal_services.proposal_update(proposal=proposal, by=org.author, data={"title": f"Predict delivery times v{n}"})
    proposal_services.pod_review_record(proposal=proposal, by=org.pm, decision="approve",
                                        comment="Impact is clear, and the owner is named.")
    for lead in org.pod_leads[1:]:
        proposal_services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    for member in org.council[:2]:
        proposal_services.council_vote_cast(proposal=proposal, by=member, vote="approve",
                                            comment="A long comment that has to wrap on a phone: " + "words " * 20)
    org.author.set_password("pw")
    org.author.save()
    return org, proposal


def test_a_proposal_history_reads_as_sentences_on_a_laptop_and_a_phone(browser, live_server):
    org, proposal = _proposal_with_history()
    for name, viewport in (("laptop", DESKTOP), ("phone", PHONE)):
        page = person_page(browser, live_server, org.author, next_path=f"/proposals/{proposal.pk}/", viewport=viewport)
        timeline = page.locator("#audit-timeline")
        expect(timeline).to_contain_text(f"{org.pm.display_name} approved as PM lead: “Impact is clear")
        expect(timeline).to_contain_text("Moved to ML Council review; on the")
        raw = timeline.locator(".history-raw").filter(has_text="Raw event").first
        expect(raw.locator("dl")).to_be_hidden()
        raw.locator("summary").click()
        expect(raw.locator("dl")).to_be_visible()
        expect(raw.locator("dl")).to_contain_text("proposal.created")
        no_overflow(page, f"the proposal page at {name} width")
        timeline.scroll_into_view_if_needed()
        screenshot(page, f"history-proposal-{name}")
        timeline.screenshot(path=str(ARTIFACTS / f"history-proposal-{name}-timeline.png"))
        page.context.close()


def test_an_endpoint_history_tells_each_revision(browser, live_server, django_capture_on_commit_callbacks):
    from serving import services
    from serving.tests.factories import project_with_versions, publish

    org, project, (v1, v2) = project_with_versions()
    with django_capture_on_commit_callbacks(execute=False):
        publish(services.deployment_deploy(name="delivery-eta", model_version=v1, reason="First model beats the rules",
                                           by=org.lead))
        publish(services.deployment_shadow_add(name="delivery-eta", model_version=v2,
                                               reason="Score the challenger on live traffic", by=org.lead))
    org.lead.set_password("pw")
    org.lead.save()
    for name, viewport in (("laptop", DESKTOP), ("phone", PHONE)):
        page = person_page(browser, live_server, org.lead, next_path="/deployments/endpoints/delivery-eta/",
                           viewport=viewport)
        history = page.locator("#history")
        expect(history.locator("> ol > li")).to_have_count(2)
        expect(history.locator("> ol > li").first).to_contain_text("published revision 2 (shadow v2 added)")
        expect(history).to_contain_text("asked to add shadow v2 (revision 2): “Score the challenger on live traffic”")
        no_overflow(page, f"the endpoint page at {name} width")
        history.scroll_into_view_if_needed()
        screenshot(page, f"history-endpoint-{name}")
        history.screenshot(path=str(ARTIFACTS / f"history-endpoint-{name}-timeline.png"))
        page.context.close()
