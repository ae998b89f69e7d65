"""Retraining on a schedule: stored for Celery beat, and retraining picks up new data."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from portal.errors import DomainError
from registry import services
from registry.models import TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from workers.models import Job

pytestmark = pytest.mark.django_db


def _start(org, project, dataset, schedule=""):
    return services.training_start(
        project=project, dataset=dataset, target="minutes", features=DELIVERY_FEATURES, task="regression",
        framework="lightgbm", by=org.lead, seed=3, params={"num_boost_round": 5}, schedule=schedule,
    )


def test_a_schedule_is_stored_for_beat_and_one_per_model():
    org, project = approved_project()
    dataset = demo_dataset(rows=300)
    _start(org, project, dataset, schedule="0 3 * * 1")
    task = PeriodicTask.objects.get(name=f"retrain:{project.models.get().name}")
    assert task.task == "workers.training_scheduled" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "3", "1")
    first_config = json.loads(task.args)[0]

    _start(org, project, dataset, schedule="30 2 * * *")
    task = PeriodicTask.objects.get(name=f"retrain:{project.models.get().name}")
    assert (task.crontab.minute, task.crontab.hour) == ("30", "2")
    assert json.loads(task.args)[0] != first_config
    assert PeriodicTask.objects.filter(task="workers.training_scheduled").count() == 1


def test_a_bad_cron_expression_is_refused_and_nothing_is_started():
    org, project = approved_project()
    dataset = demo_dataset(rows=300)
    with pytest.raises(DomainError, match="five fields"):
        _start(org, project, dataset, schedule="every monday")
    assert not Job.objects.filter(kind="training").exists()
    assert not PeriodicTask.objects.filter(task="workers.training_scheduled").exists()


def test_retraining_uses_the_newest_dataset_of_the_same_name():
    org, project = approved_project()
    old = demo_dataset(rows=300, seed=1, name="deliveries")
    job = _start(org, project, old, schedule="0 3 * * *")
    config = TrainingConfig.objects.get(pk=job.params["config_id"])
    new = demo_dataset(rows=400, seed=2, name="deliveries")

    retrain_job = services.training_retrain(config_id=config.pk)
    retrain_config = TrainingConfig.objects.get(pk=retrain_job.params["config_id"])
    assert retrain_job.kind == "training" and retrain_job.started_by is None
    assert retrain_config.dataset == new
    assert (retrain_config.target, retrain_config.seed, retrain_config.params) == (config.target, config.seed, config.params)


def test_stopping_a_schedule():
    org, project = approved_project()
    _start(org, project, demo_dataset(rows=300), schedule="0 3 * * *")
    model = project.models.get()
    services.training_schedule_stop(model=model, by=org.lead)
    assert services.training_schedule_get(model=model) is None
    with pytest.raises(DomainError, match="no retraining schedule"):
        services.training_schedule_stop(model=model, by=org.lead)
