"""A proposal's whole governance journey, driven in a real browser by the people involved:
the author drafts and submits it, the pod's leads approve it, the Council splits, the chair
decides, publishes the minutes, and a real worker emails them."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from portal.models import Notification
from proposals import services
from proposals.models import Meeting, MeetingState, Proposal, ProposalState
from proposals.tests.factories import make_org
from tests.browser import DESKTOP, PHONE, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def flash(page):
    return page.locator("ul.messages")


@pytest.mark.integration
def test_a_proposal_from_draft_to_emailed_minutes(browser, live_server, celery_worker_process):
    org = make_org(council_size=4)
    people = [org.author, org.lead, org.engineer, org.outsider, *org.pod_leads, *org.council]
    for user in people:
        user.set_password("pw")
        user.save()
    url = live_server.url

    # --- the author drafts the proposal in the form -------------------------------------------
    author = person_page(browser, live_server, org.author, next_path="/proposals/")
    expect(author.get_by_role("heading", name="No proposals yet")).to_be_visible()
    author.get_by_role("link", name="New proposal").first.click()
    expect(author.get_by_role("heading", name="New proposal")).to_be_visible()

    author.get_by_label("Title").fill("Predict delivery times")
    author.get_by_label("Pod").select_option(label="Delivery")
    author.get_by_label("Business problem").fill("Customers abandon orders when the promised delivery time is wrong.")
    author.get_by_label("Proposed solution").fill("A gradient-boosted model on order, courier and weather features.")
    author.get_by_label("Success metric", exact=True).fill("Mean absolute error (minutes)")
    author.get_by_label("Success metric baseline").fill("11.5")
    author.get_by_label("Success metric target").fill("7")

    # Inline validation: a wrong number is flagged as soon as the person leaves the field.
    impact = author.locator("#field-estimated_yearly_impact")
    impact.get_by_label("Estimated yearly impact").fill("about a million")
    impact.get_by_label("Estimated yearly impact").press("Tab")
    expect(impact.locator(".errorlist")).to_have_text(
        "Estimated yearly impact: “about a million” is not a number. Write it like 20,000, 300k or 1.5m.")
    expect(impact.get_by_label("Estimated yearly impact")).to_have_value("about a million")
    screenshot(author, "proposals-proposal-form-inline-error")
    impact.get_by_label("Estimated yearly impact").fill("900k")
    impact.get_by_label("Estimated yearly impact").press("Tab")
    expect(impact.locator(".errorlist")).to_have_count(0)
    author.get_by_label("Impact confidence").select_option(label="Medium")

    author.get_by_label("Build cost (person-weeks)").fill("12")
    author.get_by_label("Yearly maintenance cost").fill("40,000")
    author.get_by_label("Third-party options considered").fill("Vendor X: no access to our courier data.")
    author.get_by_label("Technical lead").select_option(label=f"{org.lead.display_name} · Data scientist")
    author.get_by_label("Biggest blocker").select_option(label="Statistical performance")
    author.get_by_label("Platform components").fill("feature store, model registry")
    team = author.locator("#field-team")
    # The team starts with the author; here the author (a product manager) hands it to the builders.
    team.get_by_label(f"{org.author.display_name} · Product manager").uncheck()
    team.get_by_label(f"{org.lead.display_name} · Data scientist").check()
    team.get_by_label(f"{org.engineer.display_name} · ML engineer").check()
    author.locator("#field-watchers").get_by_label(f"{org.outsider.display_name} · Analyst").check()
    author.get_by_role("button", name="Save draft").click()

    expect(author.get_by_role("heading", name="Predict delivery times", exact=True)).to_be_visible()
    expect(flash(author)).to_contain_text("Draft saved. It is complete: submit it when you are ready.")
    proposal = Proposal.objects.get()
    assert proposal.author == org.author and proposal.state == ProposalState.DRAFT
    assert {m.user for m in proposal.team_members.all()} == {org.lead, org.engineer}
    assert proposal.platform_components == ["feature store", "model registry"]
    assert proposal.estimated_yearly_impact == 900000 and proposal.yearly_maintenance_cost == 40000
    checks = author.locator("#principles")
    expect(checks.locator("li.ok")).to_have_count(5)
    screenshot(author, "proposals-proposal-draft")

    author.get_by_role("button", name="Submit for review").click()
    expect(flash(author)).to_contain_text("Submitted: the leads of Delivery review it next:")
    expect(author.locator("#next-step .badge")).to_have_text("Pod review")
    detail = f"/proposals/{proposal.pk}/"

    # --- each of the four pod leads approves from the proposal page ---------------------------
    for lead in org.pod_leads:
        page = person_page(browser, live_server, lead, next_path=detail)
        form = page.locator("#pod-review-form")
        form.get_by_label("Comment").fill(f"Fine from the {lead.get_function_display().lower()} side.")
        form.get_by_role("button", name="Approve").click()
        expect(flash(page)).to_contain_text("Your review is recorded: approve.")
        expect(page.locator("#pod-review-form")).to_have_count(0)
        if lead is not org.pod_leads[-1]:
            page.context.close()
    expect(page.locator("#next-step .badge")).to_have_text("Council review")
    screenshot(page, "proposals-proposal-council-review")
    page.context.close()

    # --- the Council votes on the meeting page, 2 approve / 2 reject -------------------------
    meeting = Meeting.objects.get()
    item = meeting.items.get()
    meeting_path = f"/council/meetings/{meeting.pk}/"
    watcher = person_page(browser, live_server, org.outsider, next_path=meeting_path)
    live = watcher.locator(f"#item-live-{item.pk}")
    expect(live).to_contain_text("Only ML Council members vote.")
    expect(live.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    # Marks this document: still there after the votes means the tally changed in place, by polling.
    watcher.evaluate("window.stillTheSamePage = true")

    votes = [("approve", "Approve"), ("approve", "Approve"), ("reject", "Reject"), ("reject", "Reject")]
    for n, (member, (choice, label)) in enumerate(zip(org.council, votes), start=1):
        page = person_page(browser, live_server, member, next_path=meeting_path)
        page.locator(f"#item-{item.pk}").get_by_role("button", name=f"{label}: {item.title}").click()
        expect(flash(page)).to_contain_text(f"Your vote on “{proposal.title}” is recorded: {label.lower()}.")
        expect(watcher.locator(f"#item-live-{item.pk} .tally")).to_have_attribute("data-voted", str(n), timeout=10_000)
        if n == 2:
            expect(live.locator('[data-choice="approve"]')).to_have_text("2")
            screenshot(watcher, "proposals-meeting-voting")
        page.context.close()
    expect(live).to_have_attribute("data-open", "false", timeout=10_000)
    expect(live).to_contain_text("Split: escalated to the chair")
    expect(live.locator('[data-choice="reject"]')).to_have_text("2")
    assert watcher.evaluate("window.stillTheSamePage === true")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.ESCALATED
    watcher.context.close()

    # --- the chair decides, then publishes the minutes ----------------------------------------
    chair = person_page(browser, live_server, org.chair, next_path=detail)
    expect(chair.locator("#next-step .badge")).to_have_text("Escalated to the chair")
    screenshot(chair, "proposals-proposal-escalated")
    form = chair.locator("#chair-form")
    form.get_by_label("Rationale").fill("Impact outweighs the risk; the lead owns the statistical work.")
    form.get_by_role("button", name="Approve").click()
    expect(flash(chair)).to_contain_text("Decided: approved.")
    expect(chair.locator("#next-step .badge")).to_have_text("Approved")
    expect(chair.locator("#chair-decision")).to_contain_text("Impact outweighs the risk")
    screenshot(chair, "proposals-proposal-approved")

    chair.goto(url + meeting_path)
    chair.once("dialog", lambda dialog: dialog.accept())
    chair.get_by_role("button", name="Publish minutes").click()
    expect(chair).to_have_url(re.compile(r"/jobs/\d+/$"))
    expect(flash(chair)).to_contain_text("published")
    expect(chair.locator("#job-live")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    screenshot(chair, "proposals-minutes-job")

    chair.goto(url + meeting_path)
    banner = chair.locator("#minutes-published")
    expect(banner).to_contain_text(f"by {org.chair.display_name}")
    assert Meeting.objects.get().state == MeetingState.MINUTES_PUBLISHED
    screenshot(chair, "proposals-meeting-published")

    recipients = {org.author, org.lead, org.outsider, *org.pod_leads, *org.council}
    banner.get_by_role("link", name=f"{len(recipients)} emails").click()
    expect(chair.get_by_role("heading", name="Sent emails")).to_be_visible()
    rows = chair.locator("#email-table tbody tr")
    expect(rows).to_have_count(len(recipients))
    table = chair.locator("#email-table").inner_text()
    for person in recipients:
        assert person.email in table, person.email
    assert org.engineer.email not in table
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}
    screenshot(chair, "proposals-sent-emails")
    chair.context.close()


def _demo(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    # One proposal amended after review, so its revisions can be compared.
    triage = Proposal.objects.get(title="Support ticket triage")
    services.proposal_update(proposal=triage, by=triage.author, note="Answered the analytics lead", data={
        "business_problem": "Payment disputes wait two days for the right team; urgent ones wait as long as the rest.",
        "success_metric_target": "8",
        "platform_components": ["feature store", "serving"],
    })
    services.proposal_submit(proposal=triage, by=triage.author)
    # Last week's minutes went out, so the sent emails page has something to show.
    from workers.models import Job
    from workers.runtime import job_execute

    for job in Job.objects.filter(kind="minutes_send"):
        job_execute(job.pk)
    assert Notification.objects.filter(state="sent").exists()
    return triage


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_proposals_and_council_page_fits_the_screen(browser, live_server, settings, size):
    triage = _demo(settings)
    from portal.models import User

    for user in User.objects.all():
        user.set_password("pw")
        user.save()
    upcoming = Meeting.objects.get(state=MeetingState.SCHEDULED)
    past = Meeting.objects.get(state=MeetingState.MINUTES_PUBLISHED)
    fraud = Proposal.objects.get(title="Card fraud scoring")
    dispatch = Proposal.objects.get(title="Route-level ETA for dispatch")
    revisions = list(triage.revisions.values_list("number", flat=True))
    pages = [
        ("grace", "/", "dashboard"),
        ("grace", "/proposals/", "proposal-list"),
        ("grace", "/proposals/?state=council_review", "proposal-list-filtered"),
        ("grace", "/proposals/new/", "proposal-new"),
        ("judy", f"/proposals/{triage.pk}/edit/", "proposal-edit"),
        ("carol", f"/proposals/{dispatch.pk}/", "proposal-council-vote"),
        ("grace", f"/proposals/{fraud.pk}/", "proposal-chair-decided"),
        ("judy", f"/proposals/{triage.pk}/", "proposal-resubmitted"),
        ("judy", f"/proposals/{triage.pk}/compare/?a={revisions[0]}&b={revisions[-1]}", "proposal-compare"),
        ("grace", "/proposals/queue/", "my-queue"),
        ("bob", "/proposals/queue/", "my-queue-empty"),
        ("grace", "/council/", "council"),
        ("grace", "/council/meetings/", "meeting-list"),
        ("grace", f"/council/meetings/{upcoming.pk}/", "meeting-upcoming-chair"),
        ("bob", f"/council/meetings/{upcoming.pk}/", "meeting-upcoming-non-member"),
        ("grace", f"/council/meetings/{past.pk}/", "meeting-published"),
        ("grace", "/council/emails/", "sent-emails"),
    ]
    viewport = DESKTOP if size == "desktop" else PHONE
    contexts = {}
    for username, path, name in pages:
        if username not in contexts:
            contexts[username] = person_page(browser, live_server, User.objects.get(username=username), viewport=viewport)
        page = contexts[username]
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        expect(page.locator("main h1")).to_be_visible()
        if name == "council":
            expect(page.locator("#by-pod-chart .plotly-graph-div .main-svg").first).to_be_attached()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        screenshot(page, f"proposals-{size}-{name}")
        if overflow > 0:
            culprits = page.evaluate("""() => [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'))""")
            raise AssertionError(f"{path} is {overflow}px wider than the {size} screen: {culprits}")
    for page in contexts.values():
        page.context.close()
