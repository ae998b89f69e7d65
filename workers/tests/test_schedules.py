"""Schedules: any job kind on a cron expression, fired by beat at most once per slot."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import IntegrityError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from portal.errors import DomainError
from portal.models import AuditEvent
from portal.tests.factories import UserFactory
from workers import cron, kinds, services, tasks
from workers.models import Job, Schedule, ScheduleSlot

pytestmark = pytest.mark.django_db


def at(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


@pytest.mark.parametrize("expression, now, slot", [
    ("0 3 * * 1", "2026-11-30 10:05", "2026-11-30 03:00"),   # a Monday
    ("0 3 * * 1", "2026-11-30 02:59", "2026-11-23 03:00"),   # before this week's: last week's
    ("*/15 * * * *", "2026-11-30 10:44", "2026-11-30 10:30"),
    ("30 2 1 * *", "2026-11-30 10:00", "2026-11-01 02:30"),
    ("0 0 * * 0", "2026-11-30 00:00", "2026-11-29 00:00"),   # Sunday, as 0
    ("0 0 * * 7", "2026-11-30 00:00", "2026-11-29 00:00"),   # and as 7
    ("0 9 * * mon-fri", "2026-11-29 12:00", "2026-11-27 09:00"),
])
def test_each_firing_belongs_to_the_latest_slot_at_or_before_it(expression, now, slot):
    assert cron.parse(expression).slot(dt.datetime.fromisoformat(now)) == dt.datetime.fromisoformat(slot)


@pytest.mark.parametrize("expression, message", [
    ("every monday", "five fields"),
    ("61 * * * *", "out of range for the minute field"),
    ("0 3 * * 1 2", "five fields"),
    ("0 5-3 * * *", "runs backwards"),
    ("*/0 * * * *", "not a valid step"),
])
def test_bad_expressions_are_refused_with_the_reason(expression, message):
    with pytest.raises(DomainError, match=message) as caught:
        services.schedule_check(expression)
    assert caught.value.details["field"] == "schedule"


def test_cron_in_words():
    assert cron.describe("0 3 * * 1") == "At 03:00, only on Monday"


@pytest.fixture
def user():
    return UserFactory(username="scheduler")


@pytest.fixture
def sleepy():
    # A job kind that exists only here: schedules know kinds by name, whoever registered them.
    return kinds.register("test_sleep", label="Test sleep", queue="default", handler="tests.jobkinds.sleep_run")


def test_a_schedule_is_stored_for_beat_and_replaced_by_name(sleepy, user):
    schedule = services.schedule_set(name="nightly-sleep", kind="test_sleep", cron="0 3 * * *",
                                     params={"steps": 1}, by=user)
    task = PeriodicTask.objects.get(name="schedule:nightly-sleep")
    assert task.task == "workers.schedule_fire" and json.loads(task.args) == [schedule.pk]
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")

    again = services.schedule_set(name="nightly-sleep", kind="test_sleep", cron="30  4 * * *", params={"steps": 2}, by=user)
    assert again.pk == schedule.pk and again.cron == "30 4 * * *" and again.params == {"steps": 2}
    assert PeriodicTask.objects.get(name="schedule:nightly-sleep").crontab.hour == "4"
    assert AuditEvent.objects.filter(verb="schedule.set", object_id=str(schedule.pk)).count() == 2

    services.schedule_stop(name="nightly-sleep", by=user)
    assert not Schedule.objects.filter(name="nightly-sleep").exists()
    assert not PeriodicTask.objects.filter(name="schedule:nightly-sleep").exists()
    with pytest.raises(DomainError, match="no schedule 'nightly-sleep'"):
        services.schedule_stop(name="nightly-sleep", by=user)


def test_an_unknown_kind_or_a_bad_cron_stores_nothing(sleepy, user):
    with pytest.raises(KeyError, match="unknown job kind"):
        services.schedule_set(name="x", kind="no_such_kind", cron="0 3 * * *", by=user)
    with pytest.raises(DomainError, match="five fields"):
        services.schedule_set(name="x", kind="test_sleep", cron="daily", by=user)
    assert not Schedule.objects.filter(name="x").exists()
    assert not PeriodicTask.objects.filter(name="schedule:x").exists()


def test_a_duplicated_or_redelivered_beat_message_starts_one_job_per_slot(sleepy, user, django_capture_on_commit_callbacks):
    schedule = services.schedule_set(name="hourly-sleep", kind="test_sleep", cron="0 * * * *",
                                     params={"steps": 1, "pause": 0}, by=user)
    with django_capture_on_commit_callbacks(execute=False):
        first = services.schedule_fire(schedule_id=schedule.pk, now=at("2026-11-30 10:00:01"))
        # The same message twice, and once more redelivered 40 minutes later: still the 10:00 slot.
        assert services.schedule_fire(schedule_id=schedule.pk, now=at("2026-11-30 10:00:02")) is None
        assert services.schedule_fire(schedule_id=schedule.pk, now=at("2026-11-30 10:40:00")) is None
        later = services.schedule_fire(schedule_id=schedule.pk, now=at("2026-11-30 11:00:03"))
    assert first.kind == "test_sleep" and first.params == {"steps": 1, "pause": 0} and first.started_by is None
    assert later is not None and later.pk != first.pk
    assert Job.objects.filter(kind="test_sleep").count() == 2
    assert list(ScheduleSlot.objects.filter(schedule=schedule).order_by("slot").values_list("job_id", flat=True)) == [
        first.pk, later.pk]
    # The database is what enforces it: a second row for the same slot is refused.
    with pytest.raises(IntegrityError):
        ScheduleSlot.objects.create(schedule=schedule, slot=at("2026-11-30 10:00"))


def test_the_beat_task_fires_through_the_service_and_a_stopped_schedule_fires_nothing(sleepy, user, django_capture_on_commit_callbacks):
    schedule = services.schedule_set(name="s", kind="test_sleep", cron="*/5 * * * *", by=user)
    with django_capture_on_commit_callbacks(execute=False):
        job_id = tasks.schedule_fire.run(schedule.pk)
        assert Job.objects.get(pk=job_id).kind == "test_sleep"
        services.schedule_stop(name="s", by=user)
        assert tasks.schedule_fire.run(schedule.pk) is None


def test_migrate_creates_the_default_schedules_of_registered_kinds():
    # The proposals app registers its kinds with a default schedule; migrate made them once.
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"ml_review_schedule", "chair_rotation"} <= names
    assert Schedule.objects.get(name="ml_review_schedule").description == "Every 6 hours"
    assert services.schedules_ensure_defaults() == []
