"""Champion and challenger: who may move them, that MLflow follows, and the history behind
"which version was champion at time T"."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.models import AuditEvent, Function
from portal.tests.factories import UserFactory
from proposals.models import Proposal
from registry import mlflow_client, selectors, services
from registry.models import ModelVersion
from registry.tests.factories import approved_project, demo_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions():
    """An approved project with two versions registered in MLflow (no training needed)."""
    org, project = approved_project()
    model = project.models.get()
    services.registered_model_ensure_in_mlflow(model=model)
    dataset = demo_dataset("card_fraud", rows=50, by=org.lead)
    made = []
    for _ in range(2):
        registered = mlflow_client.client().create_model_version(model.name, source="file:///nonexistent/model")
        made.append(ModelVersion.objects.create(registered_model=model, version=int(registered.version),
                                                mlflow_run_id="", dataset=dataset))
    return org, project, made


def champion_in_mlflow(project):
    return int(mlflow_client.client().get_model_version_by_alias(project.name, "champion").version)


def test_the_lead_and_the_ml_engineers_move_aliases_and_the_history_answers_for_any_time(versions):
    org, project, (v1, v2) = versions
    model = project.models.get()
    before = timezone.now()

    first = services.model_version_alias_set(version=v1, alias="champion", reason="First model beats the rules.", by=org.lead)
    assert champion_in_mlflow(project) == v1.version
    between = timezone.now()
    services.model_version_alias_set(version=v2, alias="challenger", reason="Shadow it for a week.", by=org.engineer)
    moved = services.model_version_alias_set(version=v2, alias="champion", reason="Won the shadow test.", by=org.engineer)

    assert champion_in_mlflow(project) == v2.version
    assert moved.previous_version == v1 and moved.moved_by == org.engineer and first.previous_version is None
    assert selectors.alias_holder_at(model=model, alias="champion", at=before) is None
    assert selectors.alias_holder_at(model=model, alias="champion", at=between) == v1
    assert selectors.alias_holder_at(model=model, alias="champion", at=timezone.now()) == v2
    assert selectors.aliases_current(model=model) == {"champion": v2, "challenger": v2}
    event = AuditEvent.objects.filter(verb="model_version.alias_moved").order_by("-id").first()
    assert (event.from_state, event.to_state) == (f"v{v1.version}", f"v{v2.version}")
    assert event.actor == org.engineer and event.data["reason"] == "Won the shadow test."

    with pytest.raises(InvalidTransition, match="already the champion"):
        services.model_version_alias_set(version=v2, alias="champion", reason="Again", by=org.lead)


def test_nobody_else_moves_aliases_and_every_move_needs_a_reason(versions):
    org, project, (v1, _) = versions
    teammate = UserFactory(username="teammate", function=Function.DATA_SCIENTIST)
    project.team.add(teammate)
    other_engineer = UserFactory(username="other_mle", function=Function.ML_ENGINEER)
    for person in (teammate, other_engineer, org.outsider, org.chair):
        with pytest.raises(Forbidden, match="Only the technical lead and the ML engineers"):
            services.model_version_alias_set(version=v1, alias="champion", reason="Looks good", by=person)
    with pytest.raises(DomainError, match="Say why"):
        services.model_version_alias_set(version=v1, alias="champion", reason="  ", by=org.lead)
    with pytest.raises(DomainError, match="alias must be one of champion, challenger"):
        services.model_version_alias_set(version=v1, alias="production", reason="Ship it", by=org.lead)
    Proposal.objects.filter(pk=project.proposal_id).update(state="withdrawn")
    v1.refresh_from_db()
    with pytest.raises(InvalidTransition, match="only be moved for approved projects"):
        services.model_version_alias_set(version=v1, alias="champion", reason="Ship it", by=org.lead)
    assert not AuditEvent.objects.filter(verb="model_version.alias_moved").exists()
    assert mlflow_client.registered_model_get(project.name).aliases == {}


def test_when_mlflow_refuses_the_move_the_attempt_is_recorded_as_failed_and_nothing_moves(versions):
    org, project, (v1, _) = versions
    model = project.models.get()
    mlflow_client.client().delete_model_version(project.name, str(v1.version))
    with pytest.raises(DomainError, match="MLflow refused to point champion"):
        services.model_version_alias_set(version=v1, alias="champion", reason="best so far", by=org.lead)
    attempt = model.alias_events.get()
    assert attempt.state == "failed" and "MLflow refused" in attempt.error
    assert selectors.aliases_current(model=model) == {}
    assert selectors.alias_holder_at(model=model, alias="champion", at=timezone.now()) is None
    assert not AuditEvent.objects.filter(verb="model_version.alias_moved").exists()
    assert AuditEvent.objects.filter(verb="model_version.alias_move_failed", actor=org.lead).count() == 1


def test_the_call_to_mlflow_is_made_with_no_transaction_open(versions, monkeypatch):
    """A network call inside a transaction would hold the model's row lock for its whole length."""
    from django.db import connection

    org, project, (v1, _) = versions
    seen = {}
    real = mlflow_client.alias_set

    def spy(**kwargs):
        # The test itself runs in one transaction; the service must not have opened another.
        seen["depth"] = len(connection.savepoint_ids)
        seen["pending"] = project.models.get().alias_events.get().state
        return real(**kwargs)

    monkeypatch.setattr(mlflow_client, "alias_set", spy)
    services.model_version_alias_set(version=v1, alias="champion", reason="best so far", by=org.lead)
    assert seen == {"depth": 0, "pending": "pending"}
    assert project.models.get().alias_events.get().state == "applied"


def _with_mae(version, mae: float, baseline: float = 8.0) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(params={"task": "regression"},
                                                      metrics={"mae": mae, "baseline_mae": baseline})
    version.refresh_from_db()


def test_a_version_is_compared_with_the_champion_and_the_naive_baseline(versions):
    org, project, (v1, v2) = versions
    _with_mae(v1, 2.5)
    _with_mae(v2, 2.0)
    assert selectors.champion_comparison(version=v2)["champion"] is None  # no champion yet
    services.model_version_alias_set(version=v1, alias="champion", reason="First", by=org.lead)

    comparison = selectors.champion_comparison(version=v2)
    assert comparison["champion"]["version"] == v1 and comparison["champion"]["verdict"] == "better"
    assert comparison["champion"]["difference"] == pytest.approx(0.5)
    assert comparison["champion"]["relative"] == pytest.approx(0.2)
    assert comparison["baseline"]["verdict"] == "better" and comparison["baseline"]["difference"] == pytest.approx(6.0)
    assert selectors.champion_comparison(version=v1)["is_champion"]


def test_a_worse_champion_needs_an_explicit_confirmation_that_the_history_keeps(versions):
    org, project, (v1, v2) = versions
    _with_mae(v1, 2.0)
    _with_mae(v2, 2.5)
    services.model_version_alias_set(version=v1, alias="champion", reason="First", by=org.lead)

    with pytest.raises(DomainError) as refused:
        services.model_version_alias_set(version=v2, alias="champion", reason="Fresher data", by=org.lead)
    assert refused.value.status == 409 and "worse than the champion v1" in refused.value.message
    assert champion_in_mlflow(project) == v1.version

    # A challenger is not held to it; the champion is, unless confirmed.
    services.model_version_alias_set(version=v2, alias="challenger", reason="Shadow it", by=org.lead)
    services.model_version_alias_set(version=v2, alias="champion", reason="Fresher data", by=org.lead,
                                     confirm_worse=True)
    assert champion_in_mlflow(project) == v2.version
    event = AuditEvent.objects.filter(verb="model_version.alias_moved", object_id=str(v2.pk),
                                      data__alias="champion").get()
    assert event.data["confirmed_worse"] == {"metric": "mae", "value": 2.5, "champion_value": 2.0,
                                             "champion_version": v1.version}


def test_the_alias_form_has_no_default_and_the_page_asks_for_the_confirmation(versions):
    from portal.tests.fixtures import client_for

    org, project, (v1, v2) = versions
    _with_mae(v1, 2.0)
    _with_mae(v2, 2.5)
    services.model_version_alias_set(version=v1, alias="champion", reason="First", by=org.lead)
    page = client_for(org.lead).get(f"/projects/versions/{v2.pk}/").content.decode()
    assert '<option value="" selected disabled>Choose…</option>' in page
    assert 'name="confirm_worse"' in page and "worse than the champion" in page
    response = client_for(org.lead).post(f"/projects/versions/{v2.pk}/aliases/",
                                         {"alias": "champion", "reason": "Fresher"}, follow=True)
    assert any("Confirm to make it the champion anyway" in str(m) for m in response.context["messages"])
    response = client_for(org.lead).post(f"/projects/versions/{v2.pk}/aliases/",
                                         {"alias": "champion", "reason": "Fresher", "confirm_worse": "on"})
    assert champion_in_mlflow(project) == v2.version

    api = client_for(org.lead)
    back = api.post(f"/api/v1/model-versions/{v1.pk}/aliases/", {"alias": "champion", "reason": "Back"},
                    content_type="application/json")
    assert back.status_code == 200  # v1 is better than the champion v2: nothing to confirm
    refused = api.post(f"/api/v1/model-versions/{v2.pk}/aliases/", {"alias": "champion", "reason": "Again"},
                       content_type="application/json")
    assert refused.status_code == 409 and refused.json()["field"] == "confirm_worse"
    confirmed = api.post(f"/api/v1/model-versions/{v2.pk}/aliases/",
                         {"alias": "champion", "reason": "Again", "confirm_worse": True}, content_type="application/json")
    assert confirmed.status_code == 200 and champion_in_mlflow(project) == v2.version
