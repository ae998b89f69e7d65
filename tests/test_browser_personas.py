"""A week in the portal, one persona at a time, each starting from the home page.

For each person: what the home page shows first (their own work, above the company's), the step
they take from there, and the notification for the next person's step arriving under that person's
bell and in the outbox (the portal's sent emails, and the mail actually sent). Each home page is
saved as a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal.models import InAppNotification, Notification, NotificationKind, NotificationState
from portal.notifications import notification_preferences_set, notifications_mark_read
from proposals import services
from proposals.models import ProposalState
from proposals.tests.factories import complete_data, make_org, proposal_in_council_review, submitted_proposal
from registry.tests.factories import approved_project, demo_dataset
from tests.browser import person_page, screenshot
from workers.models import Job, JobState
from workers.runtime import job_execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

K = NotificationKind


def with_password(*users):
    for user in users:
        user.set_password("pw")
        user.save()


def first_section(page) -> str:
    """The id of the first card on the home page: what the person sees before scrolling."""
    return page.locator("main section.card").first.get_attribute("id")


def arrived(user, kind: str, *, url: str, email: bool, title: str = "") -> InAppNotification:
    """The notification (of ``kind``, with ``title`` in its title) is under ``user``'s bell and, when
    ``email``, in the outbox and sent, once."""
    [row] = InAppNotification.objects.filter(recipient=user, kind=kind, title__contains=title)
    assert row.url == url and not row.is_read
    sent = Notification.objects.filter(recipient=user, subject=row.title)
    mailed = [m for m in mail.outbox if user.email in m.to and m.subject == row.title]
    if email:
        assert sent.get().state == NotificationState.SENT
        assert len(mailed) == 1 and url in mailed[0].body, "one email, linking straight to the page"
    else:
        assert not sent.exists() and not mailed
    return row


def bell_shows(browser, live_server, user, title: str, *, screenshot_name: str) -> None:
    """``user`` signs in, sees the bell's count, opens it and finds the notification first."""
    page = person_page(browser, live_server, user)
    expect(page.locator("#bell .bell-count")).to_contain_text("1 unread")
    page.locator("#bell").click()
    expect(page.locator("#inbox li.unread").first).to_contain_text(title)
    screenshot(page, screenshot_name)
    page.context.close()


def test_a_pm_starts_from_home_submits_the_draft_and_the_pod_leads_are_asked_to_review(browser, live_server):
    org = make_org()
    with_password(org.author, org.em)
    draft = services.proposal_create(author=org.author, data=complete_data(org, title="Predict delivery times"))

    page = person_page(browser, live_server, org.author)
    # First: what waits for me (my draft), then my proposals with what each waits for.
    assert first_section(page) == "my-queue"
    expect(page.locator("#my-queue")).to_contain_text("1 draft or changes to finish")
    mine = page.locator("#my-proposals")
    expect(mine).to_contain_text("Predict delivery times")
    expect(mine).to_contain_text("You: finish and submit it")
    expect(page.get_by_role("link", name="New proposal").first).to_be_visible()
    screenshot(page, "persona-pm-home")

    mine.get_by_role("link", name="Predict delivery times").click()
    expect(page.locator("#submit-ready")).to_contain_text("Everything its kind needs is filled in.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("ul.messages")).to_contain_text("the leads of Delivery review it next")
    draft.refresh_from_db()
    assert draft.state == ProposalState.POD_REVIEW
    page.goto(f"{live_server.url}/")
    expect(page.locator("#my-proposals")).to_contain_text("Pod review")
    page.context.close()

    # The next step is the pod leads': each is asked, under the bell and by email (their default).
    url = f"/proposals/{draft.pk}/"
    for lead in org.pod_leads:
        arrived(lead, K.REVIEW_OWED, url=url, email=True)
    bell_shows(browser, live_server, org.em, "Your review: “Predict delivery times”",
               screenshot_name="persona-pm-next-pod-lead-bell")


def test_a_pod_lead_starts_from_home_gives_the_last_approval_and_the_council_is_asked_to_vote(browser, live_server):
    org = make_org()
    with_password(org.em, org.council[1])
    proposal = submitted_proposal(org, title="Predict delivery times")
    for lead in (org.pm, org.ds_manager, org.analytics_manager):
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")

    page = person_page(browser, live_server, org.em)
    assert first_section(page) == "my-queue"
    expect(page.locator("#my-queue")).to_contain_text("1 pod review to do")
    expect(page.locator(".sidebar .nav-badge").first).to_have_text("1")
    screenshot(page, "persona-pod-lead-home")

    # From the review request under the bell to the proposal, and the last approval.
    page.locator("#bell").click()
    page.locator("#inbox").get_by_role("link", name="Predict delivery times").click()
    expect(page).to_have_url(f"{live_server.url}/proposals/{proposal.pk}/")
    form = page.locator("#pod-review-form")
    form.get_by_label("Comment").fill("Impact is clear")
    form.get_by_role("button", name="Approve").click()
    # What happens next, beside the button pressed.
    expect(page.locator("main")).to_contain_text(re.compile(r"ML Council", re.I))
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.COUNCIL_REVIEW
    page.goto(f"{live_server.url}/")
    expect(page.locator("#my-queue")).to_contain_text("You're all caught up")
    page.context.close()

    # The next step is the Council's: every member is asked to vote, in the portal and by email.
    url = f"/proposals/{proposal.pk}/"
    for member in org.council:
        arrived(member, K.VOTE_OWED, url=url, email=True)
    # The technical lead learns it moved on, in the portal only (their default for that kind).
    moved = InAppNotification.objects.get(recipient=org.lead, kind=K.PROPOSAL_STATE, title__contains="ML Council")
    assert not Notification.objects.filter(recipient=org.lead, subject=moved.title).exists()
    bell_shows(browser, live_server, org.council[1], "Predict delivery times",
               screenshot_name="persona-pod-lead-next-council-bell")


def test_a_council_member_starts_from_home_casts_the_deciding_vote_and_the_lead_hears_of_it(browser, live_server):
    org = make_org(council_size=4)
    member = org.council[3]
    with_password(member, org.lead)
    proposal = proposal_in_council_review(org, title="Predict delivery times")
    for other in org.council[:3]:
        services.council_vote_cast(proposal=proposal, by=other, vote="approve")
    notifications_mark_read(user=org.lead)  # what the lead heard on the way here, read long ago
    # The technical lead wants decisions on their proposals by email.
    notification_preferences_set(user=org.lead, channels={K.PROPOSAL_STATE: "email"})

    page = person_page(browser, live_server, member)
    assert first_section(page) == "my-queue"
    expect(page.locator("#my-queue")).to_contain_text("1 Council vote to cast")
    expect(page.locator("#next-review")).to_contain_text("Predict delivery times")
    screenshot(page, "persona-council-member-home")

    page.locator("#next-review").get_by_role("link").first.click()
    expect(page.locator("main h1")).to_contain_text("ML Review")
    page.get_by_label("Comment on Predict delivery times").fill("The courier data makes it worth it")
    page.get_by_role("button", name="Approve: Predict delivery times").click()
    expect(page.locator("main")).to_contain_text("The courier data makes it worth it")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    page.context.close()

    # The next step is the technical lead's: the approval reaches them under the bell and by email.
    row = arrived(org.lead, K.PROPOSAL_STATE, url=f"/proposals/{proposal.pk}/", email=True, title="approved")
    bell_shows(browser, live_server, org.lead, row.title, screenshot_name="persona-council-next-lead-bell")


def test_a_data_scientist_starts_from_home_trains_and_hears_the_training_finished(browser, live_server):
    org, project = approved_project(title="Predict delivery times")
    with_password(org.lead)
    dataset = demo_dataset("delivery_times", rows=800, by=org.lead)
    InAppNotification.objects.filter(recipient=org.lead).delete()  # the approval's news, read long ago
    notification_preferences_set(user=org.lead, channels={K.JOB_FINISHED: "email"})

    page = person_page(browser, live_server, org.lead)
    expect(page.locator("#my-queue")).to_contain_text("You're all caught up")
    expect(page.locator("#my-proposals")).to_contain_text("Predict delivery times")
    models = page.locator("#my-models")
    expect(models).to_contain_text(project.title)
    expect(models).to_contain_text("Not deployed")
    screenshot(page, "persona-data-scientist-home")

    models.get_by_role("link", name=project.title).first.click()
    train = page.locator("#train-form")
    train.get_by_label("Dataset").select_option(value=str(dataset.pk))
    expect(train.get_by_label("Target column")).to_have_value("minutes")
    train.get_by_label("Boosting rounds").fill("20")
    train.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))

    # The worker's part, run here: the job ends and its starter is told.
    job = Job.objects.get(kind="training")
    assert job.started_by == org.lead
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    version = job.result["model_version"]["version"]
    row = arrived(org.lead, K.JOB_FINISHED, url=f"/jobs/{job.pk}/", email=True)
    assert row.title == f"Training of {project.title} → v{version} finished"

    page.reload()
    expect(page.locator("#job-live")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#bell .bell-count")).to_contain_text("1 unread")
    page.locator("#bell").click()
    page.locator("#inbox").get_by_role("link", name=row.title).click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(page.locator("#bell .bell-count")).to_have_count(0)
    screenshot(page, "persona-data-scientist-training-done")
    page.context.close()
