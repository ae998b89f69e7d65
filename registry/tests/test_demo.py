"""The demo a newcomer opens: approved projects with trained versions and a champion."""

import pytest
from django.core.management import call_command

from registry import mlflow_client, services
from registry.models import AliasEvent, MLProject, ModelVersion

pytestmark = pytest.mark.django_db


def test_seed_demo_trains_real_versions_of_both_frameworks(django_capture_on_commit_callbacks, settings):
    settings.DEBUG = True
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    delivery = MLProject.objects.get(proposal__title="Delivery time prediction")
    versions = ModelVersion.objects.filter(registered_model__project=delivery)
    assert {v.params["framework"] for v in versions} == {"lightgbm", "torch"}
    for version in versions:
        run = mlflow_client.client().get_run(version.mlflow_run_id)
        assert run.info.status == "FINISHED"
        assert version.metrics and all(value == value for value in version.metrics.values())
    champion = AliasEvent.objects.get(alias="champion")
    assert champion.model_version.params["framework"] == "lightgbm"
    assert services.training_schedule_get(model=delivery.models.get()) is not None
    assert ModelVersion.objects.filter(registered_model__project__proposal__title="Card fraud scoring").count() == 1

    # Three in the delivery project (LightGBM and torch on the orders file, LightGBM on the training set
    # built from the feature views) and one for card fraud; seeding again adds none.
    assert ModelVersion.objects.count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    assert ModelVersion.objects.count() == 4
