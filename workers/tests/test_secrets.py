"""A job's error, message, log and audit event never keep a password that an exception named."""

from __future__ import annotations

import pytest

from portal.models import AuditEvent
from portal.tests.factories import UserFactory
from workers.models import JobState
from workers.runtime import job_execute
from workers.services import job_start

pytestmark = pytest.mark.django_db

REASON = ("could not connect to postgres://portal:hunter2@db.internal:5432/portal "
          "nor fetch https://bucket.example.com/model.pkl?X-Amz-Signature=deadbeef42&part=1")


def test_a_failed_jobs_stored_error_log_and_audit_mask_the_password(client):
    person = UserFactory(username="runner")
    job = job_start(kind="test_fail", started_by=person, params={"reason": REASON})

    job_execute(job.pk)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    stored = [job.error, job.message, *job.log_lines.values_list("text", flat=True),
              *[str(e.data) for e in AuditEvent.objects.filter(object_type="job", object_id=str(job.pk))]]
    assert all("hunter2" not in text and "deadbeef42" not in text for text in stored)
    # What a person needs to mend the connection stays.
    assert job.error == ("could not connect to postgres://portal:***@db.internal:5432/portal "
                         "nor fetch https://bucket.example.com/model.pkl?X-Amz-Signature=***&part=1")
    assert any("postgres://portal:***@db.internal:5432/portal" in line for line in job.log_lines.values_list("text", flat=True))
    client.force_login(person)
    page = client.get(f"/jobs/{job.pk}/")
    api = client.get(f"/api/v1/jobs/{job.pk}/")
    assert page.status_code == api.status_code == 200
    assert "db.internal:5432" in page.content.decode()
    assert "hunter2" not in page.content.decode()
    assert "hunter2" not in api.json()["error"] + api.json()["message"]
