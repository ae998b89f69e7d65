"""The governance gate and the endpoint's revisions, without a serving process."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.models import AuditEvent, Function
from portal.tests.factories import UserFactory
from proposals.models import Proposal
from registry import services as registry_services
from serving import selectors, services
from serving.models import Endpoint, EndpointRevision, RevisionState
from serving.tests.factories import publish, infra_engineer, project_with_versions
from workers.models import Job

pytestmark = pytest.mark.django_db




@pytest.fixture
def deployed(django_capture_on_commit_callbacks):
    org, project, (v1, v2) = project_with_versions()
    with django_capture_on_commit_callbacks(execute=False):
        job = services.deployment_deploy(name="delivery-eta", model_version=v1, reason="First model", by=org.lead)
        publish(job)
    return org, project, v1, v2


def test_deploying_creates_the_endpoint_a_pending_revision_and_its_job(django_capture_on_commit_callbacks):
    org, project, (v1, _) = project_with_versions()
    with django_capture_on_commit_callbacks(execute=False):
        job = services.deployment_deploy(name="delivery-eta", model_version=v1.pk, reason="First model", by=org.lead)
    endpoint = Endpoint.objects.get(name="delivery-eta")
    assert endpoint.project == project and endpoint.state == "undeployed" and endpoint.live_revision is None
    revision = endpoint.revisions.get()
    assert (revision.number, revision.state, revision.primary, revision.job) == (1, "pending", v1, job)
    assert (job.kind, job.queue, job.object_type, job.object_id) == ("deploy", "deploy", "endpoint", str(endpoint.pk))
    assert AuditEvent.objects.filter(verb="endpoint.change_requested", object_id=str(endpoint.pk)).exists()
    # Nothing serves until the job publishes it.
    assert selectors.serving_manifest() == {"endpoints": {}}


def test_a_published_revision_is_in_the_manifest_the_replicas_load(deployed):
    org, project, v1, _ = deployed
    manifest = selectors.serving_manifest()["endpoints"]["delivery-eta"]
    assert manifest["revision"] == 1
    assert manifest["primary"]["model_version_id"] == v1.pk
    assert manifest["primary"]["model_uri"] == f"models:/{project.models.get().name}/1"
    assert manifest["canary"] is None and manifest["shadows"] == []


def test_who_may_deploy(django_capture_on_commit_callbacks):
    org, project, (v1, v2) = project_with_versions()
    data_scientist = UserFactory(username="ds", function=Function.DATA_SCIENTIST)
    project.team.add(data_scientist)
    outside_mle = UserFactory(username="mle2", function=Function.ML_ENGINEER)
    for person in (data_scientist, outside_mle, org.outsider, org.pm):
        with pytest.raises(Forbidden, match="Only the technical lead and the ML engineers"):
            services.deployment_deploy(name="eta", model_version=v1, reason="go", by=person)
    assert not EndpointRevision.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        # The team's ML engineer and any ML infrastructure engineer may.
        services.deployment_deploy(name="eta", model_version=v1, reason="go", by=org.engineer)
        publish(Job.objects.get(kind="deploy"))
        services.deployment_shadow_add(name="eta", model_version=v2, reason="shadow it", by=infra_engineer())


def test_only_versions_of_the_endpoints_project(deployed):
    org, project, v1, v2 = deployed
    _, _, (foreign, _) = project_with_versions(org=org)
    with pytest.raises(DomainError, match="belongs to") as caught:
        services.deployment_canary_set(name="delivery-eta", model_version=foreign, share=10, reason="try", by=org.lead)
    assert caught.value.status == 400


def test_only_while_the_proposal_is_approved_and_the_project_active(deployed, django_capture_on_commit_callbacks):
    org, project, v1, v2 = deployed
    with pytest.raises(Forbidden, match="Only the Council chair"):
        registry_services.project_suspend(project=project, by=org.lead, rationale="drift")
    registry_services.project_suspend(project=project, by=org.chair, rationale="Drift reviewed at ML Review")
    with pytest.raises(InvalidTransition, match="suspended by the Council chair") as caught:
        services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="shadow", by=org.lead)
    assert caught.value.status == 409
    # It keeps serving unless the chair undeploys it.
    assert "delivery-eta" in selectors.serving_manifest()["endpoints"]
    registry_services.project_reinstate(project=project, by=org.chair, rationale="Fixed the pipeline")
    with django_capture_on_commit_callbacks(execute=False):
        services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="shadow", by=org.lead)
    Proposal.objects.filter(pk=project.proposal_id).update(state="withdrawn")
    with pytest.raises(InvalidTransition, match="only approved proposals deploy"):
        services.deployment_rollback(name="delivery-eta", reason="back", by=org.lead)
    assert AuditEvent.objects.filter(verb__in=["project.suspended", "project.reinstated"]).count() == 2


def test_the_chair_may_undeploy_a_suspended_projects_endpoint(deployed, django_capture_on_commit_callbacks):
    org, project, v1, _ = deployed
    registry_services.project_suspend(project=project, by=org.chair, rationale="Harmful predictions")
    with django_capture_on_commit_callbacks(execute=False):
        revision = services.deployment_undeploy(name="delivery-eta", reason="Stop it now", by=org.chair)
    endpoint = Endpoint.objects.get(name="delivery-eta")
    assert endpoint.state == "undeployed" and endpoint.live_revision == revision and revision.primary is None
    assert selectors.serving_manifest() == {"endpoints": {}}


def test_one_deploy_at_a_time(deployed, django_capture_on_commit_callbacks):
    org, project, v1, v2 = deployed
    with django_capture_on_commit_callbacks(execute=False):
        services.deployment_canary_set(name="delivery-eta", model_version=v2, share=10, reason="try", by=org.lead)
    with pytest.raises(InvalidTransition, match="A deploy of delivery-eta is running") as caught:
        services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="again", by=org.lead)
    assert caught.value.status == 409
    with pytest.raises(InvalidTransition, match="is running"):
        services.deployment_undeploy(name="delivery-eta", reason="stop", by=org.lead)


def test_bad_input_is_refused_with_the_reason(deployed):
    org, project, v1, v2 = deployed
    cases = [
        (lambda: services.deployment_deploy(name="Bad Name!", model_version=v1, reason="x", by=org.lead), "lowercase"),
        (lambda: services.deployment_deploy(name="eta", model_version=999999, reason="x", by=org.lead), "no model version"),
        (lambda: services.deployment_deploy(name="eta", model_version=v1, reason="  ", by=org.lead), "Say why"),
        (lambda: services.deployment_canary_set(name="delivery-eta", model_version=v2, share=60, reason="x", by=org.lead), "1 to 50"),
        (lambda: services.deployment_canary_set(name="delivery-eta", model_version=v1, share=10, reason="x", by=org.lead), "another version"),
        (lambda: services.deployment_canary_promote(name="delivery-eta", reason="x", by=org.lead), "no canary"),
        (lambda: services.deployment_rollback(name="delivery-eta", reason="x", by=org.lead), "no other primary"),
        (lambda: services.deployment_rollback(name="nowhere", reason="x", by=org.lead), "no endpoint 'nowhere'"),
    ]
    for call, message in cases:
        with pytest.raises(DomainError, match=message):
            call()
    assert EndpointRevision.objects.count() == 1


def test_rollback_returns_to_the_previous_primary_and_history_answers_for_any_time(deployed, django_capture_on_commit_callbacks):
    org, project, v1, v2 = deployed
    endpoint = Endpoint.objects.get(name="delivery-eta")
    first_live = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        publish(services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="shadow v2", by=org.lead))
        publish(services.deployment_deploy(name="delivery-eta", model_version=v2, reason="v2 won", by=org.lead))
        second_live = timezone.now()
        rollback = services.deployment_rollback(name="delivery-eta", reason="v2 drifts", by=org.lead)
    revision = EndpointRevision.objects.get(pk=rollback.params["revision_id"])
    assert revision.primary == v1 and revision.canary is None
    assert selectors.revision_live_at(endpoint=endpoint, at=first_live).primary == v1
    assert selectors.revision_live_at(endpoint=endpoint, at=second_live).primary == v2
    # A failed attempt never counts as live.
    revision.state = RevisionState.FAILED
    revision.save()
    assert selectors.revision_live_at(endpoint=endpoint, at=timezone.now()).primary == v2
