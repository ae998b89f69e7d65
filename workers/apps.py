from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from workers import history, kinds

        history.register()
        kinds.register("system_check", label="System check", queue="default", handler="workers.system.system_check_run")
        # The daily digest of notifications (the kernel's, in portal) for those who chose it.
        kinds.register("notifications_digest", label="Notifications digest", queue="default",
                       handler="portal.notifications.digest_run", default_schedule="0 7 * * *", system=True)
        # After every app's migrations, so each kind's default schedule can be created.
        post_migrate.connect(_ensure_default_schedules, dispatch_uid="workers.schedules_ensure_defaults")


def _ensure_default_schedules(sender, **kwargs) -> None:
    if sender.name != "workers":
        return
    from workers.services import schedules_ensure_defaults

    schedules_ensure_defaults()
