"""Retraining on a schedule: stored for Celery beat, and retraining picks up new data."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from portal.errors import DomainError
from registry import jobs as registry_jobs
from registry import selectors, services
from registry.models import TrainingConfig
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from workers.models import Job, Schedule

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
    model = project.models.get()
    schedule = Schedule.objects.get(name=f"retrain:{model.name}")
    assert (schedule.kind, schedule.cron) == ("training_retrain", "0 3 * * 1")
    task = PeriodicTask.objects.get(name=f"schedule:retrain:{model.name}")
    assert task.task == "workers.schedule_fire" and task.enabled and json.loads(task.args) == [schedule.pk]
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "3", "1")
    first_config = schedule.params["config_id"]

    _start(org, project, dataset, schedule="30 2 * * *")
    schedule.refresh_from_db()
    task = PeriodicTask.objects.get(name=f"schedule:retrain:{model.name}")
    assert (task.crontab.minute, task.crontab.hour) == ("30", "2")
    assert schedule.params["config_id"] != first_config
    assert Schedule.objects.filter(kind="training_retrain").count() == 1
    assert PeriodicTask.objects.filter(task="workers.schedule_fire", name__startswith="schedule:retrain:").count() == 1
    assert selectors.training_schedule_list(project=project)[0]["description"] == "At 02:30"


def test_a_bad_cron_expression_is_refused_and_nothing_is_started():
    org, project = approved_project()
    dataset = demo_dataset(rows=300)
    with pytest.raises(DomainError, match="five fields"):
        _start(org, project, dataset, schedule="every monday")
    assert not Job.objects.filter(kind="training").exists()
    assert not Schedule.objects.filter(kind="training_retrain").exists()


def test_retraining_uses_the_newest_dataset_of_the_same_name():
    org, project = approved_project()
    old = demo_dataset(rows=300, seed=1, name="deliveries", project=project, by=org.lead)
    job = _start(org, project, old, schedule="0 3 * * *")
    config = TrainingConfig.objects.get(pk=job.params["config_id"])
    new = demo_dataset(rows=400, seed=2, name="deliveries", project=project, by=org.engineer)

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
    assert not PeriodicTask.objects.filter(name__startswith="schedule:retrain:").exists()
    with pytest.raises(DomainError, match="no retraining schedule"):
        services.training_schedule_stop(model=model, by=org.lead)


def test_a_fired_retraining_schedule_starts_one_training_on_the_newest_data():
    from workers import services as job_services
    from workers.runtime import JobRun

    org, project = approved_project()
    _start(org, project, demo_dataset(rows=300, name="deliveries", project=project), schedule="0 3 * * *")
    newer = demo_dataset(rows=350, seed=5, name="deliveries", project=project)
    schedule = Schedule.objects.get(kind="training_retrain")
    fired = job_services.schedule_fire(schedule_id=schedule.pk)
    assert fired.kind == "training_retrain"
    assert job_services.schedule_fire(schedule_id=schedule.pk) is None  # the same slot again
    result = registry_jobs.training_retrain_run(JobRun(fired))
    training = Job.objects.get(pk=result["training_job"])
    assert TrainingConfig.objects.get(pk=training.params["config_id"]).dataset == newer


def test_retraining_never_picks_up_a_file_someone_else_registered_under_the_same_name():
    from portal.errors import Forbidden
    from registry.models import Dataset

    org, project = approved_project()
    _, other = approved_project(org, title="Courier churn")
    ours = demo_dataset(rows=300, seed=1, name="deliveries", project=project, by=org.lead)
    job = _start(org, project, ours, schedule="0 3 * * *")
    config = TrainingConfig.objects.get(pk=job.params["config_id"])

    # Someone outside the team cannot add to the project's datasets, and nothing is kept.
    with pytest.raises(Forbidden, match="Only the technical lead and the team"):
        demo_dataset(rows=320, seed=9, name="deliveries", project=project, by=org.outsider)
    assert Dataset.objects.filter(name="deliveries").count() == 1
    # A shared file, or another project's, of the same name is not this project's data.
    demo_dataset(rows=330, seed=8, name="deliveries", by=org.outsider)
    theirs = demo_dataset(rows=340, seed=7, name="deliveries", project=other)
    retrain = services.training_retrain(config_id=config.pk)
    assert TrainingConfig.objects.get(pk=retrain.params["config_id"]).dataset == ours

    # Nor can the project train on another project's dataset by hand.
    with pytest.raises(Forbidden, match="belongs to another project"):
        _start(org, project, theirs)
