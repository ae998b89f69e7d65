"""Schedules fire no more often than the minimum, and one person starts a bounded number of jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.errors import DomainError, RateLimited
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, flash
from workers import kinds, services
from workers.cron import parse
from workers.models import Job, Schedule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("expression, minutes", [
    ("* * * * *", 1), ("*/5 * * * *", 5), ("0,2 3 * * *", 2), ("0 * * * *", 60), ("0 3 * * *", 24 * 60),
    ("50 23 * * *", 24 * 60), ("0 0,23 * * *", 60),
])
def test_the_shortest_interval_of_a_cron_expression(expression, minutes):
    assert parse(expression).min_interval_minutes() == minutes


def test_a_person_made_schedule_has_a_minimum_interval_and_the_portals_own_defaults_do_not():
    kinds.register("test_limit_sleep", label="Test sleep", queue="default", handler="tests.jobkinds.sleep_run")
    with pytest.raises(DomainError, match=r"at most every 5 minutes \(SCHEDULE_MIN_INTERVAL_MINUTES\)"):
        services.schedule_set(name="busy", kind="test_limit_sleep", cron="*/2 * * * *", by=UserFactory())
    assert not Schedule.objects.filter(name="busy").exists()
    assert services.schedule_set(name="calm", kind="test_limit_sleep", cron="*/5 * * * *").cron == "*/5 * * * *"

    # The prediction drain's own schedule runs every minute, as the portal set it up.
    assert Schedule.objects.get(name="prediction_drain").cron == "* * * * *"


@pytest.fixture
def person(settings):
    settings.JOBS_PER_PERSON_PER_HOUR = 2
    return UserFactory()


def test_starting_jobs_past_the_hourly_limit_is_refused_with_429_and_a_message(person, django_capture_on_commit_callbacks):
    api = api_client_for(person)
    with django_capture_on_commit_callbacks(execute=False):
        assert api.post("/api/v1/system-checks/").status_code == 202
        assert api.post("/api/v1/system-checks/").status_code == 202
        refused = api.post("/api/v1/system-checks/")
        assert refused.status_code == 429, refused.content
        assert ("You have started 2 jobs in the last hour; one person can start at most 2 an hour "
                "(JOBS_PER_PERSON_PER_HOUR). Try again after") in refused.json()["detail"]

        page = client_for(person).post("/system/check/")
        assert any("at most 2 an hour (JOBS_PER_PERSON_PER_HOUR)" in m for m in flash(page))
        assert Job.objects.filter(started_by=person).count() == 2

        # Jobs the portal starts are nobody's; someone else has their own hour.
        services.job_start(kind="system_check", started_by=None)
        services.job_start(kind="system_check", started_by=UserFactory())

        # An hour later the oldest no longer counts.
        oldest = Job.objects.filter(started_by=person).order_by("created_at").first()
        Job.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(hours=1, minutes=1))
        assert services.job_start(kind="system_check", started_by=person)
        with pytest.raises(RateLimited):
            services.job_start(kind="system_check", started_by=person)
