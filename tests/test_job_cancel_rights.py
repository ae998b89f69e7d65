"""Who may cancel a job: the person who started it, the technical lead and team of the project it is
about, administrators; the portal's own jobs (the minutes email, schedulers) administrators only.
Enforced in ``job_cancel``, answered 403 by the API, and the job page shows no Cancel button to
anyone it would refuse."""

from __future__ import annotations

import pytest

from portal.errors import Forbidden
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from registry.tests.factories import approved_project
from serving.models import Endpoint
from workers.models import Job, JobState
from workers.services import job_cancel, job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_and_org():
    org, project = approved_project()
    return org, project


def test_a_stranger_cannot_cancel_another_teams_training(project_and_org):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.engineer, params={}, obj=project)

    with pytest.raises(Forbidden) as refused:
        job_cancel(job=job, by=org.outsider)

    assert f"the technical lead and the team of {project}" in refused.value.message
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


@pytest.mark.parametrize("who", ["engineer", "lead", "staff"])
def test_the_starter_the_project_team_and_staff_may_cancel_a_training(project_and_org, who):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.engineer, params={}, obj=project)
    person = UserFactory(username="ops", is_staff=True) if who == "staff" else getattr(org, who)

    assert job_cancel(job=job, by=person).state == JobState.CANCELLED


def test_a_pod_lead_outside_the_project_team_cannot_cancel_its_training(project_and_org):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.lead, params={}, obj=project)

    with pytest.raises(Forbidden):
        job_cancel(job=job, by=org.pm)


def test_the_endpoint_projects_team_may_cancel_a_deployment_others_may_not(project_and_org):
    org, project = project_and_org
    endpoint = Endpoint.objects.create(name="eta-rights", project=project, created_by=org.lead)
    job = job_start(kind="deploy", started_by=org.lead, params={}, obj=endpoint)

    with pytest.raises(Forbidden):
        job_cancel(job=job, by=org.author)
    assert job_cancel(job=job, by=org.engineer).state == JobState.CANCELLED


def test_only_staff_cancel_the_minutes_email_even_the_chair_who_started_it():
    from proposals.tests.factories import make_org

    org = make_org()
    job = job_start(kind="minutes_send", started_by=org.chair, params={})

    with pytest.raises(Forbidden) as refused:
        job_cancel(job=job, by=org.chair)
    assert "Only an administrator can cancel a minutes email job" in refused.value.message
    assert job_cancel(job=job, by=UserFactory(username="root", is_superuser=True)).state == JobState.CANCELLED


def test_the_api_answers_403_with_the_reason_and_the_job_runs_on(project_and_org):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.engineer, params={}, obj=project)

    response = api_client_for(org.outsider).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 403
    assert "can cancel it" in response.json()["detail"]
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


def test_the_job_page_shows_cancel_only_to_those_who_may(project_and_org):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.engineer, params={}, obj=project)

    assert "Cancel job" not in text_of(client_for(org.outsider).get(f"/jobs/{job.pk}/"))
    assert "Cancel job" in text_of(client_for(org.lead).get(f"/jobs/{job.pk}/"))


def test_posting_cancel_from_the_page_as_a_stranger_says_why_and_cancels_nothing(project_and_org):
    org, project = project_and_org
    job = job_start(kind="training", started_by=org.engineer, params={}, obj=project)

    page = client_for(org.outsider).post(f"/jobs/{job.pk}/cancel/", follow=True)

    assert "can cancel it" in text_of(page)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
