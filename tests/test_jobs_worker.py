"""The job runtime end to end: a real Celery worker process, watched through the API."""

from __future__ import annotations

import time

import pytest

from conftest import start_worker, wait_for
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for
from workers.models import Job, JobState
from workers.services import job_start, jobs_reap_stale

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(transactional_db):
    return api_client_for(UserFactory(username="runner"))


def _get(api, job_id):
    response = api.get(f"/api/v1/jobs/{job_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_progress_of_a_running_job_is_visible_through_the_api(api, celery_worker_process):
    job = job_start(kind="test_sleep", started_by=api.user, params={"steps": 8, "pause": 0.4})
    seen: list[int] = []
    states: list[str] = []

    def finished():
        body = _get(api, job.pk)
        seen.append(body["progress"])
        states.append(body["state"])
        return body if body["state"] in ("succeeded", "failed", "cancelled") else None

    body = wait_for(finished, timeout=60, interval=0.15, message="the job to finish")
    assert body["state"] == "succeeded", body
    assert body["result"] == {"steps": 8}
    assert body["progress"] == 100
    assert "running" in states
    assert len({p for p in seen if 0 < p < 100}) >= 2, f"no intermediate progress seen: {seen}"
    assert [line["text"] for line in body["log"] if line["text"].startswith("step ")][:2] == ["step 1", "step 2"]
    assert body["worker"]


def test_system_check_probes_every_component_on_a_real_worker(api, celery_worker_process):
    response = api.post("/api/v1/system-checks/")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = wait_for(lambda: (b := _get(api, job_id))["state"] in ("succeeded", "failed") and b, timeout=90,
                    message="the system check")
    assert body["state"] == "succeeded", body
    checks = {c["name"]: c for c in body["result"]["checks"]}
    assert set(checks) == {"database", "redis", "broker", "mlflow", "serving", "queue:default", "queue:training",
                           "queue:deploy", "queue:monitoring"}
    failed = {name: c["detail"] for name, c in checks.items() if not c["ok"]}
    # No serving process runs in this test: the check says so in words (tests/test_deploy_journey.py runs one).
    assert not failed, failed
    assert "no serving replica is running" in checks["serving"]["detail"]
    assert all(c["ms"] >= 0 for c in checks.values())
    assert celery_worker_process.name.split("@")[0] in checks["queue:training"]["detail"]


def test_cancel_stops_a_running_job_within_seconds(api, celery_worker_process):
    job = job_start(kind="test_sleep", started_by=api.user, params={"steps": 500, "pause": 0.2})
    wait_for(lambda: _get(api, job.pk)["state"] == "running", timeout=60, message="the job to start")
    asked = time.monotonic()
    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 202, response.content
    wait_for(lambda: _get(api, job.pk)["state"] == "cancelled", timeout=10, message="the job to stop")
    assert time.monotonic() - asked < 10
    job.refresh_from_db()
    assert job.result is None
    assert job.progress < 100
    again = api.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]


def test_a_failing_job_ends_failed_with_a_readable_reason(api, celery_worker_process):
    job = job_start(kind="test_fail", started_by=api.user, params={"reason": "column 'price' is missing"})
    body = wait_for(lambda: (b := _get(api, job.pk))["state"] in ("failed", "succeeded") and b, timeout=60,
                    message="the job to fail")
    assert body["state"] == "failed"
    assert body["error"] == "column 'price' is missing"
    assert "column 'price' is missing" in body["message"]
    assert body["queue"] == "training"


def test_a_job_whose_worker_died_is_marked_failed(api, tmp_path, settings):
    worker = start_worker(tmp_path)
    try:
        job = job_start(kind="test_sleep", started_by=api.user, params={"steps": 1000, "pause": 0.2})
        wait_for(lambda: _get(api, job.pk)["state"] == "running", timeout=60, message="the job to start")
    finally:
        worker.kill()
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 2
    # While the last heartbeat is recent, the job is still taken for alive.
    assert job.pk not in jobs_reap_stale(now=Job.objects.get(pk=job.pk).heartbeat_at)
    time.sleep(2.5)
    assert job.pk in jobs_reap_stale()
    body = _get(api, job.pk)
    assert body["state"] == "failed"
    assert "stopped responding" in body["message"]
    assert "no heartbeat" in body["error"]
    # A second sweep, or a redelivered task, changes nothing.
    assert jobs_reap_stale() == []
    from workers.runtime import job_execute

    job_execute(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
