"""Retraining schedules written straight into beat's tables become the job runtime's schedules
(kind ``training_retrain``), fired through its one entry point."""

import json

from django.db import migrations
from django.utils import timezone


def convert(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    Schedule = apps.get_model("workers", "Schedule")
    TrainingConfig = apps.get_model("registry", "TrainingConfig")
    for task in PeriodicTask.objects.filter(task="workers.training_scheduled"):
        try:
            config = TrainingConfig.objects.get(pk=json.loads(task.args or "[]")[0])
        except (ValueError, IndexError, TypeError, TrainingConfig.DoesNotExist):
            task.delete()
            continue
        schedule, _ = Schedule.objects.update_or_create(
            name=task.name,
            defaults={"kind": "training_retrain", "params": {"config_id": config.pk}, "cron": config.schedule,
                      "enabled": task.enabled, "object_type": "registeredmodel",
                      "object_id": str(config.registered_model_id), "created_by_id": config.created_by_id,
                      "updated_at": timezone.now(), "last_fired_at": task.last_run_at},
        )
        task.name = f"schedule:{schedule.name}"
        task.task = "workers.schedule_fire"
        task.args = json.dumps([schedule.pk])
        task.save()


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0002_alias_move_state"),
        ("workers", "0002_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(convert, migrations.RunPython.noop)]
