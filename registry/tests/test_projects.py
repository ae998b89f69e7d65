"""An approved proposal becomes exactly one ML project, with its registered model in MLflow."""

from __future__ import annotations

import pytest

from workers.models import Job
from workers.runtime import JobRun

from portal.errors import DomainError
from portal.models import AuditEvent
from proposals import services as proposal_services
from proposals.tests.factories import complete_data, make_org
from registry import jobs as registry_jobs
from registry import mlflow_client, selectors, services
from registry.models import MLProject, RegisteredModel
from registry.tests.factories import approved_proposal, unique_title

pytestmark = pytest.mark.django_db


def test_approving_a_proposal_creates_one_project_and_its_mlflow_model(django_capture_on_commit_callbacks):
    org = make_org()
    title = unique_title("Delivery time prediction")
    with django_capture_on_commit_callbacks(execute=True):
        proposal = approved_proposal(org, title=title)

    # The approval starts a visible job; the project and MLflow's model come from it.
    assert not MLProject.objects.exists()
    creation = Job.objects.get(kind="project_create")
    assert (creation.object_type, creation.object_id) == ("proposal", str(proposal.pk))
    assert mlflow_client.registered_model_get(title.lower().replace(" ", "-")) is None
    registry_jobs.project_create_run(JobRun(creation))
    registry_jobs.project_create_run(JobRun(creation))  # a retry changes nothing

    project = MLProject.objects.get()
    assert project.proposal == proposal and proposal.project == project
    assert project.owner == org.lead
    assert set(project.team.all()) == {org.lead, org.engineer}
    assert project.name == title.lower().replace(" ", "-")
    model = RegisteredModel.objects.get()
    assert model.project == project and model.name == project.name
    in_mlflow = mlflow_client.registered_model_get(model.name)
    assert in_mlflow is not None
    assert in_mlflow.tags[mlflow_client.TAG_PROPOSAL] == str(proposal.pk)
    event = AuditEvent.objects.get(verb="project.created")
    assert event.object_id == str(project.pk) and event.data["proposal_id"] == proposal.pk
    assert selectors.project_for_proposal(proposal_id=proposal.pk) == project

    # The signal may come again (a retry, a second worker): still one project.
    assert services.project_create_for_proposal(proposal_id=proposal.pk) == project
    assert MLProject.objects.count() == 1 and RegisteredModel.objects.count() == 1
    assert AuditEvent.objects.filter(verb="project.created").count() == 1


def test_projects_get_distinct_names_and_only_ml_proposals_become_projects(django_capture_on_commit_callbacks):
    org = make_org()
    title = unique_title("Fraud scoring")
    first = approved_proposal(org, title=title)
    second = approved_proposal(org, title=title)
    hiring = approved_proposal(org, title="Senior ML engineer", kind="hiring")
    with django_capture_on_commit_callbacks(execute=False):
        names = [services.project_create_for_proposal(proposal_id=p.pk).name for p in (first, second)]
        assert services.project_create_for_proposal(proposal_id=hiring.pk) is None
    base = title.lower().replace(" ", "-")
    assert names == [base, f"{base}-2"]
    assert MLProject.objects.count() == 2


def test_a_proposal_that_is_not_approved_is_no_project():
    org = make_org()
    draft = proposal_services.proposal_create(author=org.author, data=complete_data(org))
    with pytest.raises(DomainError, match="Only an approved proposal becomes a project; this one is draft"):
        services.project_create_for_proposal(proposal_id=draft.pk)
    assert not MLProject.objects.exists()
