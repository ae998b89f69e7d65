import pytest

from portal.tests.factories import UserFactory
from workers.services import job_finished, job_start

pytestmark = pytest.mark.django_db


def test_the_jobs_list_pages_through_and_keeps_its_filters(client):
    user = UserFactory()
    client.force_login(user)
    for _ in range(30):
        job = job_start(kind="system_check", started_by=user)
        job_finished(job_id=job.pk, state="failed", message="Failed: no broker", error="no broker")
    job_start(kind="system_check", started_by=user)  # queued: filtered out below
    first = client.get("/jobs/?state=failed").content.decode()
    assert "Page 1 of 2" in first
    assert 'href="?state=failed&amp;page=2"' in first
    second = client.get("/jobs/?state=failed&page=2").content.decode()
    assert "Page 2 of 2" in second and second.count("/jobs/") >= 5
    assert "Queued" not in second.split("<tbody>", 1)[1]
