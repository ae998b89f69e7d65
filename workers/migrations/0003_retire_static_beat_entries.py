"""The ML Review and chair rotation schedules became schedules of their kinds (created by
``migrate`` from each kind's default); the beat rows of the old settings entries would
otherwise keep firing a task that no longer exists."""

from django.db import migrations


def retire(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task="workers.job_start_scheduled").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("workers", "0002_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]
