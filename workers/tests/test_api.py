"""The jobs API, the API's error contract, the OpenAPI schema, and queueing on commit.

No worker runs here: tests/test_jobs_worker.py covers jobs on a real worker.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for
from workers.models import Job, JobState
from workers.services import job_cancel, job_finished, job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="runner")


@pytest.fixture
def api(user):
    return api_client_for(user)


def _finished(job: Job, state: str = JobState.SUCCEEDED, message: str = "All systems reachable.") -> Job:
    return job_finished(job_id=job.pk, state=state, message=message, result={"ok": True})


def test_the_job_list_shows_jobs_newest_first(api, user):
    first = job_start(kind="system_check", started_by=user)
    second = job_start(kind="test_sleep", started_by=user)

    response = api.get("/api/v1/jobs/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [j["id"] for j in body["results"]] == [second.pk, first.pk]
    newest = body["results"][0]
    assert (newest["kind"], newest["label"], newest["state"], newest["started_by"]) == (
        "test_sleep", "Test sleep", "queued", "runner",
    )


def test_the_job_list_filters_by_state_and_kind(api, user):
    done = _finished(job_start(kind="system_check", started_by=user))
    queued_check = job_start(kind="system_check", started_by=user)
    sleeper = job_start(kind="test_sleep", started_by=user)

    def ids(**params):
        response = api.get("/api/v1/jobs/", params)
        assert response.status_code == 200, response.content
        return sorted(j["id"] for j in response.json()["results"])

    assert ids(state="succeeded") == [done.pk]
    assert ids(state="queued") == sorted([queued_check.pk, sleeper.pk])
    assert ids(kind="test_sleep") == [sleeper.pk]
    assert ids(kind="system_check", state="queued") == [queued_check.pk]
    assert ids(state="failed") == []


def test_an_unknown_state_filter_is_a_readable_400(api):
    response = api.get("/api/v1/jobs/", {"state": "exploded"})

    assert response.status_code == 400
    assert "exploded" in json.dumps(response.json())


def test_job_detail_includes_its_log(api, user):
    job = job_start(kind="system_check", started_by=user)
    _finished(job, message="All systems reachable.")

    response = api.get(f"/api/v1/jobs/{job.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "succeeded"
    assert body["progress"] == 100
    assert body["result"] == {"ok": True}
    assert [line["text"] for line in body["log"]] == ["All systems reachable."]
    assert body["log"][0]["level"] == "info"


def test_an_unknown_job_is_a_json_404(api):
    response = api.get("/api/v1/jobs/999999/")

    assert response.status_code == 404
    assert response.json()["detail"]


def test_cancelling_a_queued_job_cancels_it_at_once(api, user):
    job = job_start(kind="system_check", started_by=user)

    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 202
    assert response.json()["state"] == "cancelled"
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["state"] == "cancelled"


def test_cancelling_a_finished_job_is_a_409_that_says_why(api, user):
    job = _finished(job_start(kind="system_check", started_by=user))

    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "This job has already succeeded; only queued or running jobs can be cancelled."
    assert body["state"] == "succeeded"
    assert body["allowed_actions"] == []
    assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED


def test_cancelling_twice_is_a_409_the_second_time(api, user):
    job = job_start(kind="system_check", started_by=user)
    job_cancel(job=job, by=user)

    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 409
    assert "already cancelled" in response.json()["detail"]


def test_a_malformed_json_body_is_a_readable_400(api):
    # Any endpoint that reads a body will do; the error contract is the API's, not the app's.
    response = api.generic("POST", "/api/v1/proposals/", '{"title": "Churn model",', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def _api_paths() -> list[str]:
    from django.urls import URLPattern, get_resolver

    api = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "api")
    paths = []
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        for converter in pattern.pattern.converters:
            route = route.replace(f"<id:{converter}>", "1").replace(f"<slug:{converter}>", "some-name")
        paths.append("/api/v1/" + route)
    return paths


def test_every_api_endpoint_answers_401_without_credentials(user):
    job = job_start(kind="system_check", started_by=user)
    anonymous = APIClient()
    paths = _api_paths() + ["/api/schema/", f"/api/v1/jobs/{job.pk}/"]
    assert "/api/v1/jobs/1/cancel/" in paths

    answers = {}
    for path in paths:
        for method in ("get", "post"):
            status = getattr(anonymous, method)(path).status_code
            if status != 401:
                answers[f"{method.upper()} {path}"] = status

    assert answers == {}
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


def test_the_openapi_schema_describes_the_api(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/api/v1/jobs/" in schema["paths"]
    assert "/api/v1/jobs/{job_id}/cancel/" in schema["paths"]
    assert "/api/v1/audit-events/" in schema["paths"]


def test_the_api_docs_render_for_a_signed_in_user(client, user):
    client.force_login(user)

    response = client.get("/api/docs/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "swagger" in content.lower()
    assert "/api/schema/" in content


def test_the_api_docs_send_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/api/docs/")


@pytest.fixture
def default_queue(redis_server):
    redis_server.delete("default")
    yield redis_server
    # Leave nothing for a worker in a later test to pick up.
    redis_server.delete("default")


def test_job_start_queues_the_task_only_once_the_transaction_commits(
    user, default_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = job_start(kind="system_check", started_by=user)
        assert default_queue.llen("default") == 0

    assert len(callbacks) == 1
    assert default_queue.llen("default") == 1
    message = json.loads(default_queue.lindex("default", 0))
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert job.task_id
    assert message["headers"]["id"] == job.task_id
    assert message["headers"]["task"] == "workers.job_run"
    assert message["headers"]["argsrepr"] == f"[{job.pk}]"


def test_a_job_on_another_queue_does_not_land_on_the_default_queue(user, default_queue, django_capture_on_commit_callbacks):
    default_queue.delete("training")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job_start(kind="test_fail", started_by=user)
        assert default_queue.llen("default") == 0
        assert default_queue.llen("training") == 1
    finally:
        default_queue.delete("training")


def test_the_cancel_button_lives_in_the_refreshed_region_and_goes_when_the_job_ends(client, user):
    client.force_login(user)
    job = job_start(kind="system_check", started_by=user)
    live = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "job-live"}
    assert 'id="cancel-job"' in client.get(f"/jobs/{job.pk}/", **live).content.decode()
    job_finished(job_id=job.pk, state="succeeded", message="Done.", result={"ok": True})
    assert 'id="cancel-job"' not in client.get(f"/jobs/{job.pk}/", **live).content.decode()
    assert 'id="cancel-job"' not in client.get(f"/jobs/{job.pk}/").content.decode()
