"""The foundation's pages: health probes, sign-in, the shell pages and the error pages."""

from __future__ import annotations

import pytest

from portal.tests.factories import UserFactory
from workers.models import JobState
from workers.services import job_finished, job_start

pytestmark = pytest.mark.django_db

DEAD_SOCKET = "/nonexistent-portal-test/redis.sock"


@pytest.fixture
def user():
    return UserFactory(username="ada", full_name="Ada Lovelace")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_healthz_answers_anyone(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency_ok(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "redis": True, "broker": True,
    }


def test_readyz_is_unavailable_when_redis_is_down(client, settings):
    settings.REDIS_URL = f"unix://{DEAD_SOCKET}?db=0"
    settings.CELERY_BROKER_URL = f"redis+socket://{DEAD_SOCKET}?virtual_host=0"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert DEAD_SOCKET not in response.content.decode()


def test_readyz_tells_anyone_only_what_is_down(client, settings):
    from django.db import connection

    response = client.get("/readyz")

    assert response.json()["checks"] == {"database": {"ok": True}, "redis": {"ok": True}, "broker": {"ok": True}}
    text = response.content.decode()
    for secret in (str(settings.VAR_DIR), str(connection.settings_dict["NAME"]), connection.vendor, "Redis ",
                   "transport", "127.0.0.1", ".sock"):
        assert secret not in text


def test_readyz_shows_staff_the_details_with_passwords_masked(client, settings):
    settings.REDIS_URL = "redis://:hunter2@127.0.0.1:1/0"
    client.force_login(UserFactory(username="ops", is_staff=True))

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True and checks["database"]["detail"]
    assert checks["redis"]["ok"] is False and "127.0.0.1" in checks["redis"]["detail"]
    assert "hunter2" not in response.content.decode()


def test_the_login_page_renders_for_anyone(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert b'name="password"' in response.content


def test_the_dashboard_greets_the_user_and_says_there_are_no_jobs(signed_in):
    response = signed_in.get("/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Ada Lovelace" in content
    assert "No jobs yet" in content


def test_the_job_list_is_empty_at_first_and_filters_say_so(signed_in, user):
    assert "No jobs yet" in signed_in.get("/jobs/").content.decode()

    job_start(kind="system_check", started_by=user)
    listing = signed_in.get("/jobs/").content.decode()
    assert "System check #" in listing
    assert "No jobs yet" not in listing

    filtered = signed_in.get("/jobs/", {"state": "failed"}).content.decode()
    assert "No jobs match these filters" in filtered
    assert "System check #" not in filtered


def test_the_system_page_says_no_check_has_run(signed_in):
    response = signed_in.get("/system/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>System</h1>" in content
    assert "No system check has run yet" in content
    assert "Run system check" in content


def test_the_job_detail_page_shows_the_job(signed_in, user):
    job = job_start(kind="system_check", started_by=user)

    response = signed_in.get(f"/jobs/{job.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f"System check #{job.pk}" in content
    assert "Nothing logged yet." in content
    assert "Cancel job" in content


@pytest.mark.parametrize(
    ("path", "heading", "empty"),
    [
        ("/projects/", "Projects &amp; Models", "No ML projects yet"),
        ("/deployments/", "Deployments", "Nothing is deployed yet"),
        ("/monitoring/", "Monitoring", "Nothing to monitor yet"),
    ],
)
def test_section_pages_render_their_empty_state(signed_in, path, heading, empty):
    response = signed_in.get(path)

    assert response.status_code == 200
    content = response.content.decode()
    assert f"<h1>{heading}</h1>" in content
    assert empty in content


def test_an_unknown_page_gets_a_friendly_404_page(signed_in):
    response = signed_in.get("/no-such-page/")

    assert response.status_code == 404
    content = response.content.decode()
    assert "<html" in content
    assert "Page not found" in content


def test_an_unknown_api_path_gets_a_json_404(signed_in):
    response = signed_in.get("/api/v1/nonexistent/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_an_unknown_job_gets_the_404_page(signed_in):
    response = signed_in.get("/jobs/999999/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_htmx_polling_of_a_job_gets_only_the_live_region(signed_in, user):
    job = job_start(kind="system_check", started_by=user)

    response = signed_in.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-live")

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="job-live"')
    assert "<html" not in content
    assert 'data-state="queued"' in content


def test_cancelling_a_finished_job_from_its_page_explains_why_not(signed_in, user):
    job = job_start(kind="system_check", started_by=user)
    job_finished(job_id=job.pk, state=JobState.SUCCEEDED, message="All systems reachable.", result={"ok": True})

    response = signed_in.post(f"/jobs/{job.pk}/cancel/", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/jobs/{job.pk}/"
    content = response.content.decode()
    assert "This job has already succeeded; only queued or running jobs can be cancelled." in content
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED


def test_cancelling_a_queued_job_from_its_page_cancels_it(signed_in, user):
    job = job_start(kind="system_check", started_by=user)

    response = signed_in.post(f"/jobs/{job.pk}/cancel/", follow=True)

    assert response.status_code == 200
    assert f"Cancel requested for System check #{job.pk}." in response.content.decode()
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED


def test_the_home_page_hides_the_portals_own_jobs_from_people_who_did_not_start_them(signed_in, user):
    from workers.models import Job

    drain = Job.objects.create(kind="prediction_drain", params={})
    mine = job_start(kind="monitor_run", started_by=user, params={"monitor_id": 1})
    check = job_start(kind="system_check", started_by=None)
    content = signed_in.get("/").content.decode()
    assert f'href="/jobs/{check.pk}/"' in content and f'href="/jobs/{mine.pk}/"' in content
    assert f'href="/jobs/{drain.pk}/"' not in content
    assert f'href="/jobs/{drain.pk}/"' in signed_in.get("/jobs/").content.decode()  # the jobs list shows all


def test_development_shows_the_designed_error_pages_unless_asked_for_djangos(signed_in, settings):
    settings.DEBUG = True
    missing = signed_in.get("/no-such-page/")
    assert missing.status_code == 404 and "Using the URLconf" not in missing.content.decode()
    assert "ML Council Portal" in missing.content.decode()
    api = signed_in.get("/api/v1/no-such-thing/", HTTP_ACCEPT="application/json")
    assert api.status_code == 404
    settings.DEBUG_TECHNICAL_ERRORS = True
    assert "Using the URLconf" in signed_in.get("/no-such-page/").content.decode()
