"""Jobs are named after what they work on, in the words of the app that owns each kind: the jobs
list and a job's page say "Training of Delivery time prediction → v3", not "Model training #41"."""

from __future__ import annotations

import re

import pytest

from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, text_of
from proposals.models import Proposal, ProposalState
from registry.models import Dataset, MLProject, ModelVersion, RegisteredModel, TrainingConfig
from workers import kinds
from workers.models import Job, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    from observability.models import Monitor
    from serving.models import Endpoint, EndpointRevision

    owner = UserFactory(username="ada", full_name="Ada Lovelace")
    proposal = Proposal.objects.create(title="Delivery time prediction", author=owner, technical_lead=owner,
                                       state=ProposalState.APPROVED)
    project = MLProject.objects.create(proposal=proposal, name="delivery-eta", title="Delivery time prediction",
                                       owner=owner)
    model = RegisteredModel.objects.create(project=project, name="delivery-eta")
    dataset = Dataset.objects.create(name="orders", path="by-sha256/x.csv", sha256="0" * 64, format="csv",
                                     size_bytes=10, rows=10, schema=[], preview={})
    config = TrainingConfig.objects.create(registered_model=model, dataset=dataset, target="minutes", task="regression",
                                           framework="lightgbm", created_by=owner)
    training = Job.objects.create(kind="training", queue="training", state=JobState.SUCCEEDED, started_by=owner,
                                  object_type="mlproject", object_id=str(project.pk), params={"config_id": config.pk})
    version = ModelVersion.objects.create(registered_model=model, version=3, mlflow_run_id="r", dataset=dataset,
                                          training_job=training, metrics={"mae": 6.5},
                                          params={"task": "regression", "framework": "lightgbm"})
    training.result = {"model_version": {"id": version.pk, "name": model.name, "version": 3}, "metrics": {"mae": 6.5}}
    training.save()
    running = Job.objects.create(kind="training", queue="training", state=JobState.RUNNING, started_by=owner,
                                 object_type="mlproject", object_id=str(project.pk), params={"config_id": config.pk})
    endpoint = Endpoint.objects.create(name="delivery-eta", project=project, state="serving")
    revision = EndpointRevision.objects.create(endpoint=endpoint, number=4, action="deploy", state="live",
                                               primary=version, reason="first", created_by=owner)
    monitor = Monitor.objects.create(endpoint=endpoint, checks=["psi"])
    return {
        "owner": owner, "project": project, "version": version, "training": training, "running": running,
        "deploy": Job.objects.create(kind="deploy", queue="deploy", started_by=owner, object_type="endpoint",
                                     object_id=str(endpoint.pk), params={"revision_id": revision.pk}),
        "monitor": Job.objects.create(kind="monitor_run", queue="monitoring", object_type="monitor",
                                      object_id=str(monitor.pk), params={"monitor_id": monitor.pk}),
        "create": Job.objects.create(kind="project_create", params={"proposal_id": proposal.pk},
                                     result={"project": {"id": project.pk, "name": project.name}}),
        "retrain": Job.objects.create(kind="training_retrain", params={"config_id": config.pk},
                                      result={"training_job": running.pk}),
        "unknown": Job.objects.create(kind="training", object_type="mlproject", object_id="999999"),
    }


def test_each_kind_names_its_jobs(world):
    names = {job.pk: d.text for job, d in ((j, kinds.describe_one(j)) for j in world.values() if isinstance(j, Job))}
    assert names[world["training"].pk] == "Training of Delivery time prediction → v3"
    assert names[world["running"].pk] == "Training of Delivery time prediction"
    assert names[world["deploy"].pk] == "Deploy of delivery-eta (revision 4)"
    assert names[world["monitor"].pk] == "Monitor run of delivery-eta"
    assert names[world["create"].pk] == "Project creation for Delivery time prediction"
    assert names[world["retrain"].pk] == "Scheduled retraining of delivery-eta"
    # A job whose object is gone keeps its plain name.
    assert names[world["unknown"].pk] == f"Model training #{world['unknown'].pk}"


def test_describe_many_costs_one_query_per_kind(world, django_assert_max_num_queries):
    jobs = list(Job.objects.all())
    with django_assert_max_num_queries(5):  # training, deploy, monitor_run, project_create, training_retrain
        described = kinds.describe_many(jobs)
    assert set(described) == {job.pk for job in jobs}


def test_the_jobs_list_names_each_job(world):
    page = text_of(client_for(world["owner"]).get("/jobs/"))
    for words in ("Training of Delivery time prediction → v3", "Deploy of delivery-eta (revision 4)",
                  "Monitor run of delivery-eta", "Project creation for Delivery time prediction",
                  "Scheduled retraining of delivery-eta"):
        assert words in page
    assert f"Model training #{world['training'].pk}" in page  # the kind and number stay, under the name


def test_the_home_page_names_the_jobs_it_lists(world):
    jobs = text_of(client_for(world["owner"]).get("/")).split("Recent jobs")[1]
    assert "Training of Delivery time prediction → v3" in jobs and "Deploy of delivery-eta (revision 4)" in jobs
    assert "Monitor run of delivery-eta" not in jobs  # the portal's own jobs stay off the home page


def test_the_training_job_page_links_to_its_project_and_the_version_it_registered(world):
    response = client_for(world["owner"]).get(f"/jobs/{world['training'].pk}/")
    html = response.content.decode()
    assert re.search(r"<h1>Training of Delivery time prediction → v3</h1>", html)
    assert f'id="job-object-link" href="/projects/{world["project"].pk}/">Open the project' in html
    assert f'href="/projects/versions/{world["version"].pk}/"' in html
    assert "{'" not in html and "{&#x27;" not in html


def test_a_deploy_job_page_links_to_its_endpoint(world):
    html = client_for(world["owner"]).get(f"/jobs/{world['deploy'].pk}/").content.decode()
    assert 'href="/deployments/endpoints/delivery-eta/">Open the endpoint' in html
