"""Notifications from the events where they happen: a review or a vote owed, a proposal moving on
(with what happens next), a decision on a watched proposal, a training ending, an alert. Each
arrives under the bell and, where the person wants email, in the outbox, once."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import dateformat, timezone

from portal.models import AuditEvent, InAppNotification, Notification, NotificationKind
from portal.notifications import notification_preferences_set
from portal.tests.fixtures import client_for, text_of
from proposals import notifications as proposal_notifications
from proposals import services
from proposals.models import AgendaItem, ProposalState
from proposals.tests.factories import approved_proposal, make_org, proposal_in_council_review, submitted_proposal
from registry import services as registry_services
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from workers.models import Job, JobState
from workers.runtime import job_execute
from workers.services import job_finished

pytestmark = pytest.mark.django_db

K = NotificationKind


def inbox(user, kind=None):
    rows = InAppNotification.objects.filter(recipient=user)
    return list(rows.filter(kind=kind) if kind else rows)


def emails_to(user):
    return [m for m in mail.outbox if user.email in m.to]


def test_a_submitted_proposal_tells_each_pod_lead_their_review_is_owed(django_capture_on_commit_callbacks):
    org = make_org()
    with django_capture_on_commit_callbacks(execute=True):
        proposal = submitted_proposal(org)
    url = f"/proposals/{proposal.pk}/"
    for lead in org.pod_leads:
        [row] = inbox(lead, K.REVIEW_OWED)
        assert row.title == f"Your review: “{proposal.title}”" and row.url == url and not row.is_read
        [email] = emails_to(lead)  # reviews owed are emailed unless the person chose otherwise
        assert email.subject == row.title and f"{url}" in email.body and "Delivery pod" in email.body

    # The technical lead learns it is in pod review, and who reviews it; the author did it and is not told.
    [moved] = inbox(org.lead, K.PROPOSAL_STATE)
    assert moved.title == f"“{proposal.title}” is in pod review"
    assert org.pm.display_name in moved.body and "When they all approve, it goes to the ML Council" in moved.body
    assert not inbox(org.author)

    # The same events again notify and email nobody twice.
    before, emails = InAppNotification.objects.count(), len(mail.outbox)
    event = AuditEvent.objects.filter(verb="proposal.submitted").latest("id")
    with django_capture_on_commit_callbacks(execute=True):
        proposal_notifications.proposal_review_owed(proposal=proposal)
        proposal_notifications.proposal_state_changed(proposal=proposal, event=event, actor=org.author)
    assert InAppNotification.objects.count() == before and len(mail.outbox) == emails


def test_the_author_learns_the_council_votes_at_which_ml_review_and_members_owe_a_vote(
        django_capture_on_commit_callbacks):
    org = make_org()
    with django_capture_on_commit_callbacks(execute=True):
        proposal = proposal_in_council_review(org)
    meeting = AgendaItem.objects.get(proposal=proposal, vote_open=True).meeting
    day = dateformat.format(timezone.localtime(meeting.scheduled_for), "j F")

    [moved] = [r for r in inbox(org.author, K.PROPOSAL_STATE) if "ML Council" in r.title]
    assert moved.title == f"“{proposal.title}” goes to the ML Council"
    assert moved.body == f"It is on the agenda of the ML Review of {day}, where the ML Council votes on it."
    assert not emails_to(org.author), "state changes stay in the portal by default"
    for member in org.council:
        [owed] = inbox(member, K.VOTE_OWED)
        assert f"ML Review of {day}" in owed.body
        assert [m.subject for m in emails_to(member)] == [f"Your vote: “{proposal.title}”"]

    # The bell shows it, and opening it goes to the proposal.
    client = client_for(org.author)
    assert "goes to the ML Council" in text_of(client.get("/notifications/"))
    assert client.get(f"/notifications/{moved.pk}/open/").url == f"/proposals/{proposal.pk}/"


def test_an_author_who_chose_email_gets_changes_requested_with_what_to_do(django_capture_on_commit_callbacks):
    org = make_org()
    notification_preferences_set(user=org.author, channels={K.PROPOSAL_STATE: "email"})
    proposal = submitted_proposal(org)
    with django_capture_on_commit_callbacks(execute=True):
        services.pod_review_record(proposal=proposal, by=org.pm, decision="request_changes",
                                   comment="Add the weather data source.")
    [email] = emails_to(org.author)
    assert email.subject == f"Changes requested on “{proposal.title}”"
    assert "submit it again; it then goes back to the pod's leads" in email.body
    assert "Add the weather data source." in email.body


def test_watchers_get_the_decision_and_the_proposals_people_get_it_once(django_capture_on_commit_callbacks):
    org = make_org()
    with django_capture_on_commit_callbacks(execute=True):
        proposal = approved_proposal(org, watchers=[org.outsider, org.author, org.em])
    [decided] = inbox(org.outsider, K.WATCHED_DECISION)
    assert decided.title == f"“{proposal.title}” is approved"
    assert "Its ML project is being created in the registry" in decided.body
    # The author is told as the author, not a second time as a watcher.
    assert [r.title for r in inbox(org.author) if "approved" in r.title] == [decided.title]
    assert not inbox(org.author, K.WATCHED_DECISION)
    assert inbox(org.em, K.WATCHED_DECISION), "a pod lead watching it learns the Council's decision"


def test_a_split_vote_and_the_chair_decision_reach_the_watchers(django_capture_on_commit_callbacks):
    org = make_org()
    with django_capture_on_commit_callbacks(execute=True):
        proposal = proposal_in_council_review(org, watchers=[org.outsider])
        for member, vote in zip(org.council, ["approve", "approve", "reject", "reject"]):
            services.council_vote_cast(proposal=proposal, by=member, vote=vote)
        proposal.refresh_from_db()
        assert proposal.state == ProposalState.ESCALATED
        services.chair_decide(proposal=proposal, by=org.chair, decision="reject", rationale="Too costly for now.")
    titles = [r.title for r in inbox(org.outsider, K.WATCHED_DECISION)]
    assert sorted(titles) == sorted([f"“{proposal.title}” is escalated to the chair",
                                     f"“{proposal.title}” is rejected"])
    [rejected] = [r for r in inbox(org.author, K.PROPOSAL_STATE) if r.title.endswith("is rejected")]
    assert "Too costly for now." in rejected.body
    assert not [r for r in inbox(org.chair) if r.title.endswith("is rejected")], "the chair decided it"


def test_a_vote_without_quorum_moves_on_and_members_owe_the_next_vote(django_capture_on_commit_callbacks):
    org = make_org()
    proposal = proposal_in_council_review(org)
    with django_capture_on_commit_callbacks(execute=True):
        services.council_vote_close(proposal=proposal, by=org.chair)
    following = AgendaItem.objects.get(proposal=proposal, vote_open=True).meeting
    day = dateformat.format(timezone.localtime(following.scheduled_for), "j F")
    [moved] = [r for r in inbox(org.author, K.PROPOSAL_STATE) if "next ML Review" in r.title]
    assert moved.body == f"The vote had no quorum. It is on the agenda of the ML Review of {day}, where the ML " \
                         "Council votes on it."
    member = org.council[1]
    assert len(inbox(member, K.VOTE_OWED)) == 2, "a new agenda item is a new vote"
    assert [m.subject for m in emails_to(member)] == [f"Your vote: “{proposal.title}”"]


def test_withdrawing_tells_the_team_but_not_the_author_who_did_it(django_capture_on_commit_callbacks):
    org = make_org()
    proposal = submitted_proposal(org)
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_withdraw(proposal=proposal, by=org.author, reason="Another team does it.")
    [withdrawn] = [r for r in inbox(org.engineer) if r.title.endswith("is withdrawn")]
    assert withdrawn.body == "It is closed; nothing more happens to it."
    assert not [r for r in inbox(org.author) if r.title.endswith("is withdrawn")]
    # A draft withdrawn before anyone saw it tells nobody.
    draft = services.proposal_create(author=org.author, data={"title": "Half an idea", "team": [org.engineer]})
    services.proposal_withdraw(proposal=draft, by=org.author)
    assert not InAppNotification.objects.filter(object_id=str(draft.pk), object_type="proposal").exists()


@pytest.fixture
def training_project():
    org, project = approved_project()
    return org, project, demo_dataset("delivery_times", rows=800, by=org.lead)


def _start_training(org, project, dataset, django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=False):
        return registry_services.training_start(
            project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES, task="regression",
            framework="lightgbm", seed=1, by=org.lead, params={"num_boost_round": 20}, **fields)


def test_the_person_who_started_a_training_learns_it_finished(training_project, django_capture_on_commit_callbacks):
    org, project, dataset = training_project
    job = _start_training(org, project, dataset, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    version = job.result["model_version"]["version"]
    [row] = inbox(org.lead, K.JOB_FINISHED)
    assert row.title == f"Training of {project.title} → v{version} finished" and row.url == f"/jobs/{job.pk}/"
    assert not emails_to(org.lead), "in the portal only, by default"


def test_the_person_who_started_a_training_learns_it_failed_and_why(training_project,
                                                                   django_capture_on_commit_callbacks):
    org, project, dataset = training_project
    notification_preferences_set(user=org.lead, channels={K.JOB_FINISHED: "email"})
    job = _start_training(org, project, dataset, django_capture_on_commit_callbacks)
    for _ in range(2):  # a job's end is recorded once, and notified once
        with django_capture_on_commit_callbacks(execute=True):
            job_finished(job_id=job.pk, state=JobState.FAILED, message="Failed: the worker ran out of memory",
                         error="MemoryError: the worker ran out of memory")
    [row] = inbox(org.lead, K.JOB_FINISHED)
    assert row.title == f"Training of {project.title} failed" and "ran out of memory" in row.body
    [email] = emails_to(org.lead)
    assert email.subject == row.title and f"/jobs/{job.pk}/" in email.body
    # Jobs the portal starts itself tell nobody.
    assert not InAppNotification.objects.filter(kind=K.JOB_FINISHED).exclude(pk=row.pk).exists()


def test_a_job_cancelled_by_its_starter_is_not_notified(training_project, django_capture_on_commit_callbacks):
    from workers.services import job_cancel

    org, project, dataset = training_project
    job = _start_training(org, project, dataset, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        job_cancel(job=job, by=org.lead)
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED
    assert not inbox(org.lead, K.JOB_FINISHED)


def test_alert_recipients_who_chose_the_digest_are_not_emailed_at_once():
    """The alert hook goes through preferences: see observability's monitoring test for the email."""
    from observability.services import alert_notify
    from observability.tests.factories import monitored_endpoint

    org, project, version, endpoint = monitored_endpoint()
    notification_preferences_set(user=org.lead, channels={K.ALERT: "digest"})
    from observability.models import Alert, Monitor

    monitor = Monitor.objects.get(endpoint=endpoint)
    alert = Alert.objects.create(monitor=monitor, endpoint=endpoint.name, condition="feature_drift",
                                 summary="distance_km drifted",
                                 features=["distance_km"])
    assert alert_notify(alert_id=alert.pk) >= 1
    [row] = inbox(org.lead, K.ALERT)
    assert row.channel == "digest" and "feature=distance_km" in row.url
    assert not Notification.objects.filter(recipient=org.lead).exists()
    # A deployment's starter is told which revision of which endpoint it was.
    from workers import kinds

    assert kinds.describe_one(Job.objects.get(kind="deploy")).text == "Deploy of eta (revision 1)"


def test_the_bell_counts_only_what_still_waits(django_capture_on_commit_callbacks):
    """A review given, or a vote cast, settles the notification that asked for it; once the proposal
    moves on, nobody is still asked for a review of the round that is over."""
    org = make_org()
    with django_capture_on_commit_callbacks(execute=True):
        proposal = submitted_proposal(org)
        services.pod_review_record(proposal=proposal, by=org.pm, decision="approve")

    def unread(user, kind):
        return [r for r in inbox(user, kind) if not r.is_read]

    assert not unread(org.pm, K.REVIEW_OWED) and len(inbox(org.pm, K.REVIEW_OWED)) == 1  # kept, read
    assert len(unread(org.em, K.REVIEW_OWED)) == 1  # still owed by the others

    with django_capture_on_commit_callbacks(execute=True):
        for lead in (org.em, org.ds_manager):
            services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    # The analytics manager did not review, but the round is not over: still asked.
    assert len(unread(org.analytics_manager, K.REVIEW_OWED)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.pod_review_record(proposal=proposal, by=org.analytics_manager, decision="approve")
        services.council_vote_cast(proposal=proposal, by=org.council[1], vote="approve")
    assert not InAppNotification.objects.filter(kind=K.REVIEW_OWED, read_at__isnull=True).exists()
    assert not unread(org.council[1], K.VOTE_OWED)
    assert len(unread(org.council[2], K.VOTE_OWED)) == 1

    # The proposal leaves council review: no vote is owed any more, by anyone.
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_withdraw(proposal=proposal, by=org.author, reason="Merged into another proposal")
    assert not InAppNotification.objects.filter(kind=K.VOTE_OWED, read_at__isnull=True).exists()
