"""Projects with versions to deploy, without training (the gate needs no model file)."""

from __future__ import annotations

from portal.models import Function
from portal.tests.factories import UserFactory
from registry.models import ModelVersion
from registry.tests.factories import approved_project, demo_dataset


def project_with_versions(n: int = 2, org=None, **overrides):
    org, project = approved_project(org, **overrides)
    model = project.models.get()
    dataset = demo_dataset(rows=50, by=org.lead)
    versions = [
        ModelVersion.objects.create(registered_model=model, version=i + 1, mlflow_run_id="", dataset=dataset,
                                    params={"task": "regression", "framework": "lightgbm", "target": "minutes",
                                            "numeric_features": ["distance_km", "items", "hour"],
                                            "categorical_features": ["zone"]})
        for i in range(n)
    ]
    return org, project, versions


def infra_engineer(username: str = "infra"):
    return UserFactory(username=username, function=Function.ML_INFRA_ENGINEER)


def publish(job):
    """What a deploy job does once its checks pass and the replicas switch (the checks need a
    real model and a serving process: tests/test_deploy_journey.py runs them)."""
    from serving.models import Endpoint, EndpointRevision
    from serving.services import revision_go_live
    from workers.models import JobState
    from workers.services import job_finished

    job_id = job["job"]["id"] if isinstance(job, dict) else job.pk
    params = job["job"]["params"] if isinstance(job, dict) else job.params
    revision = EndpointRevision.objects.get(pk=params["revision_id"])
    revision_go_live(endpoint=Endpoint.objects.get(pk=revision.endpoint_id), revision=revision, by=revision.created_by)
    job_finished(job_id=job_id, state=JobState.SUCCEEDED, message="Done.")
    return revision
