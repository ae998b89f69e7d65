"""Notifications: one in-app row per person and event, emailed once, in the digest or not at all as
each person chose per kind; the bell's count, the page, marking read, preferences and the API."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from portal.models import (
    AuditEvent,
    InAppNotification,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationPreference,
)
from portal.notifications import digest_send, notification_preferences_set, notify
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, flash, text_of

pytestmark = pytest.mark.django_db

K, C = NotificationKind, NotificationChannel


@pytest.fixture
def ada():
    return UserFactory(username="ada", full_name="Ada Lovelace")


def _notify(user, *, kind=K.REVIEW_OWED, key="proposal:1:review_owed:round1", title="Your review: “Churn”",
            url="/proposals/1/", **extra):
    return notify(user=user, kind=kind, title=title, body="It waits for your review.", url=url, dedupe_key=key,
                  **extra)


def _emails_to(user):
    return [m for m in mail.outbox if user.email in m.to]


# --- channels and dedupe -------------------------------------------------------------------------

def test_default_email_kind_is_in_app_and_emailed_once_after_commit(ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        row = _notify(ada)
        assert not _emails_to(ada), "nothing is emailed before the change commits"
    assert len(callbacks) == 1
    assert row.channel == C.EMAIL and not row.is_read
    [email] = _emails_to(ada)
    assert email.subject == "Your review: “Churn”"
    assert "It waits for your review." in email.body and "http://" in email.body and "/proposals/1/" in email.body
    assert Notification.objects.get(recipient=ada).state == "sent"


def test_the_same_event_twice_notifies_and_emails_once(ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _notify(ada)
        second = _notify(ada, title="Your review again")
    with django_capture_on_commit_callbacks(execute=True):
        _notify(ada)
    assert first.pk == second.pk
    assert InAppNotification.objects.filter(recipient=ada).count() == 1
    assert len(_emails_to(ada)) == 1 and Notification.objects.count() == 1
    # Another event is another notification.
    with django_capture_on_commit_callbacks(execute=True):
        _notify(ada, key="proposal:1:review_owed:round2")
    assert InAppNotification.objects.filter(recipient=ada).count() == 2 and len(_emails_to(ada)) == 2


def test_a_default_in_app_kind_is_not_emailed(ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = _notify(ada, kind=K.PROPOSAL_STATE, key="proposal:1:event:9")
    assert row.channel == C.IN_APP and not mail.outbox and not Notification.objects.exists()


def test_preference_in_app_only_stops_the_email(ada, django_capture_on_commit_callbacks):
    notification_preferences_set(user=ada, channels={K.REVIEW_OWED: C.IN_APP})
    with django_capture_on_commit_callbacks(execute=True):
        row = _notify(ada)
    assert row.channel == C.IN_APP and not mail.outbox


def test_preference_email_for_a_kind_that_defaults_to_in_app(ada, django_capture_on_commit_callbacks):
    notification_preferences_set(user=ada, channels={K.JOB_FINISHED: C.EMAIL})
    with django_capture_on_commit_callbacks(execute=True):
        _notify(ada, kind=K.JOB_FINISHED, key="job:4:succeeded", title="Training of Churn v3 finished")
    assert [m.subject for m in _emails_to(ada)] == ["Training of Churn v3 finished"]


def test_people_without_email_or_no_longer_active_get_it_in_app_only(django_capture_on_commit_callbacks):
    no_address = UserFactory(username="noaddress", email="")
    gone = UserFactory(username="gone", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        a = _notify(no_address)
        b = _notify(gone)
    assert a.channel == b.channel == C.IN_APP and not mail.outbox


def test_a_rolled_back_change_notifies_nobody(ada, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                _notify(ada)
                raise RuntimeError("the change failed")
    assert not InAppNotification.objects.exists() and not mail.outbox


def test_an_email_the_relay_refuses_stays_queued_and_the_notification_stands(ada, settings,
                                                                            django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "portal.tests.test_notifications.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        row = _notify(ada)
    assert InAppNotification.objects.filter(pk=row.pk).exists()
    outbox = Notification.objects.get(recipient=ada)
    assert outbox.state == "failed" and "relay down" in outbox.last_error
    # The daily job retries it once the relay is back.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert digest_send()["emails_retried"] == 1
    outbox.refresh_from_db()
    assert outbox.state == "sent" and len(_emails_to(ada)) == 1


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("relay down")


# --- the digest ----------------------------------------------------------------------------------

def test_the_digest_collects_unread_notifications_and_is_sent_once_a_day(ada, django_capture_on_commit_callbacks):
    notification_preferences_set(user=ada, channels={K.PROPOSAL_STATE: C.DIGEST, K.REVIEW_OWED: C.DIGEST})
    with django_capture_on_commit_callbacks(execute=True):
        _notify(ada, kind=K.PROPOSAL_STATE, key="proposal:1:event:1", title="“Churn” goes to the ML Council")
        _notify(ada, kind=K.REVIEW_OWED, key="proposal:2:review_owed:round1", title="Your review: “ETA”")
        read = _notify(ada, kind=K.PROPOSAL_STATE, key="proposal:3:event:2", title="“Fraud” is approved")
        _notify(ada, kind=K.ALERT, key="alert:1", title="Feature drift on eta")  # email, not the digest
    assert [m.subject for m in mail.outbox] == ["Feature drift on eta"], "digest kinds wait for the digest"
    InAppNotification.objects.filter(pk=read.pk).update(read_at=timezone.now())

    now = timezone.now()
    assert digest_send(now=now)["digests_sent"] == 1
    [digest] = [m for m in mail.outbox if "digest" in m.subject]
    assert digest.subject == "Your daily digest: 2 notifications"
    assert "“Churn” goes to the ML Council" in digest.body and "Your review: “ETA”" in digest.body
    assert "Fraud" not in digest.body, "what was read already is not in the digest"
    assert "/notifications/" in digest.body and "/open/" in digest.body

    # Run again: nothing new, nothing sent.
    assert digest_send(now=now)["digests_sent"] == 0
    # Something new the same day waits for tomorrow's digest.
    _notify(ada, kind=K.PROPOSAL_STATE, key="proposal:4:event:3", title="“Churn” is approved")
    assert digest_send(now=now + dt.timedelta(hours=1))["digests_sent"] == 0
    assert len([m for m in mail.outbox if "digest" in m.subject]) == 1
    tomorrow = digest_send(now=now + dt.timedelta(days=1))
    assert tomorrow["digests_sent"] == 1
    latest = [m for m in mail.outbox if "digest" in m.subject][-1]
    assert latest.subject == "Your daily digest: 1 notification" and "“Churn” is approved" in latest.body


def test_the_digest_job_is_registered_with_a_daily_schedule():
    from workers import kinds
    from workers.models import Schedule
    from workers.services import schedules_ensure_defaults

    kind = kinds.get("notifications_digest")
    assert kind.system and kind.default_schedule == "0 7 * * *"
    schedules_ensure_defaults()
    assert Schedule.objects.get(name="notifications_digest").cron == "0 7 * * *"


# --- preferences ---------------------------------------------------------------------------------

def test_preferences_are_stored_per_kind_and_audited(ada):
    result = notification_preferences_set(user=ada, channels={K.ALERT: C.DIGEST, K.VOTE_OWED: C.EMAIL})
    assert result[K.ALERT] == C.DIGEST and result[K.VOTE_OWED] == C.EMAIL and result[K.JOB_FINISHED] == C.IN_APP
    assert dict(NotificationPreference.objects.filter(user=ada).values_list("kind", "channel")) == {
        K.ALERT: C.DIGEST, K.VOTE_OWED: C.EMAIL}
    event = AuditEvent.objects.get(verb="notifications.preferences_changed")
    assert event.data == {"channels": {K.ALERT: C.DIGEST}}, "keeping the default is no change"


def test_an_unknown_channel_is_refused_in_words(ada):
    from portal.errors import DomainError

    with pytest.raises(DomainError, match="Choose in_app, email or digest"):
        notification_preferences_set(user=ada, channels={K.ALERT: "pigeon"})


def test_the_preferences_form_saves_each_kind(ada):
    client = client_for(ada)
    page = client.get("/notifications/")
    text = text_of(page)
    assert "How you get each kind" in text and "An alert on a model I own" in text and "Default: email" in text
    data = {kind: C.IN_APP for kind in K.values} | {K.WATCHED_DECISION: C.DIGEST}
    response = client.post("/notifications/preferences/", data)
    assert response.status_code == 302 and response.url.endswith("/notifications/#preferences")
    assert "Saved" in flash(response)[0]
    assert NotificationPreference.objects.get(user=ada, kind=K.WATCHED_DECISION).channel == C.DIGEST
    assert NotificationPreference.objects.get(user=ada, kind=K.ALERT).channel == C.IN_APP
    checked = re.findall(r'<input type="radio" name="(\w+)" value="(\w+)"[^>]*checked', client.get("/notifications/")
                         .content.decode())
    assert dict(checked) == data, "the form shows what was saved"


def test_the_preferences_form_refuses_a_missing_choice(ada):
    response = client_for(ada).post("/notifications/preferences/", {K.ALERT: C.EMAIL})
    assert response.status_code == 400 and "This field is required" in text_of(response)
    assert not NotificationPreference.objects.exists()


# --- the bell, the page, marking read ------------------------------------------------------------

def test_the_bell_counts_unread_and_the_page_lists_newest_first(ada):
    client = client_for(ada)
    assert 'id="bell"' in client.get("/").content.decode()
    assert 'class="bell-count"' not in client.get("/notifications/").content.decode()
    older = _notify(ada, kind=K.PROPOSAL_STATE, key="proposal:1:event:1", title="“Churn” is in pod review")
    InAppNotification.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    _notify(ada, kind=K.JOB_FINISHED, key="job:9:failed", title="Training of Churn failed", url="/jobs/9/")
    UserFactory(username="bob")  # someone else's notifications are not counted
    _notify(UserFactory(username="bob"), key="proposal:1:review_owed:round1")

    page = client.get("/notifications/")
    html, text = page.content.decode(), text_of(page)
    assert "2 unread" in text and 'class="bell-count"' in html
    assert text.index("Training of Churn failed") < text.index("“Churn” is in pod review")
    assert html.count('class="unread"') == 2 and "Mark all read" in text


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(ada):
    row = _notify(ada, kind=K.JOB_FINISHED, key="job:9:failed", title="Training of Churn failed", url="/jobs/9/")
    client = client_for(ada)
    response = client.get(f"/notifications/{row.pk}/open/")
    assert response.status_code == 302 and response.url == "/jobs/9/"
    row.refresh_from_db()
    assert row.is_read
    assert "Mark all read" not in text_of(client.get("/notifications/"))
    # Someone else's is not found.
    other = _notify(UserFactory(username="bob"), key="x")
    assert client.get(f"/notifications/{other.pk}/open/").status_code == 404


def test_mark_all_read(ada):
    for i in range(3):
        _notify(ada, key=f"proposal:{i}:review_owed:round1")
    bob_row = _notify(UserFactory(username="bob"), key="proposal:1:review_owed:round1")
    response = client_for(ada).post("/notifications/read/")
    assert response.status_code == 302 and flash(response) == ["Marked 3 notifications read."]
    assert not InAppNotification.objects.filter(recipient=ada, read_at__isnull=True).exists()
    bob_row.refresh_from_db()
    assert not bob_row.is_read


def test_the_empty_page_says_what_will_show_up(ada):
    text = text_of(client_for(ada).get("/notifications/"))
    assert "No notifications yet" in text and "a review or a vote waits for you" in text


def test_the_page_shows_25_a_page(ada):
    for i in range(30):
        _notify(ada, kind=K.PROPOSAL_STATE, key=f"proposal:{i}:event:{i}", title=f"Event {i}")
    client = client_for(ada)
    first = text_of(client.get("/notifications/"))
    assert "Page 1 of 2" in first and "Event 29" in first and "Event 4 " not in first
    assert "Event 4" in text_of(client.get("/notifications/?page=2"))


# --- the API -------------------------------------------------------------------------------------

def test_api_lists_mine_and_marks_read(ada):
    rows = [_notify(ada, key=f"proposal:{i}:review_owed:round1", title=f"Review {i}") for i in range(3)]
    _notify(UserFactory(username="bob"), key="proposal:1:review_owed:round1")
    api = api_client_for(ada)
    body = api.get("/api/v1/me/notifications/").json()
    assert body["count"] == 3 and body["unread_count"] == 3
    assert body["results"][0]["title"] == "Review 2" and body["results"][0]["read"] is False
    assert body["results"][0]["url"].endswith("/proposals/1/")

    answer = api.post("/api/v1/me/notifications/read/", {"ids": [rows[0].pk]}, format="json").json()
    assert answer == {"marked": 1, "unread_count": 2}
    assert api.get("/api/v1/me/notifications/", {"unread": "true"}).json()["count"] == 2
    assert api.post("/api/v1/me/notifications/read/", {}, format="json").json() == {"marked": 2, "unread_count": 0}
    bad = api.post("/api/v1/me/notifications/read/", {"ids": ["x"]}, format="json")
    assert bad.status_code == 400
