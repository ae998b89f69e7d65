from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from observability import history
        from serving.signals import revision_published
        from workers import kinds

        history.register()

        kinds.register("monitor_run", label="Monitor run", queue="monitoring", handler="observability.jobs.monitor_run",
                       system=True, describe="observability.job_names.monitor_run_describe")
        kinds.register("reference_backfill", label="Reference sample", queue="monitoring",
                       handler="observability.backfill.reference_backfill_run",
                       may_manage="observability.permissions.can_manage_backfill_job")
        kinds.register("monitoring_retention", label="Monitoring retention", queue="monitoring",
                       handler="observability.services.retention_run", default_schedule="17 3 * * *", system=True)
        revision_published.connect(_monitor_on_first_deploy, dispatch_uid="observability.default_monitor")
        post_migrate.connect(_monitor_every_endpoint, sender=self, dispatch_uid="observability.monitors_ensure")


def _monitor_on_first_deploy(sender, endpoint, revision, **kwargs) -> None:
    """Every deployment is monitored from its first deploy, without anyone setting it up."""
    if revision.primary_id is None:
        return
    from observability.services import monitor_ensure_default

    monitor_ensure_default(endpoint=endpoint, by=revision.created_by)


def _monitor_every_endpoint(sender, **kwargs) -> None:
    """Endpoints deployed before monitoring existed get their default monitor at migrate."""
    from observability.models import Monitor
    from observability.services import monitor_ensure_default
    from serving.models import Endpoint

    for endpoint in Endpoint.objects.filter(live_revision__primary__isnull=False).exclude(
            pk__in=Monitor.objects.values("endpoint_id")):
        monitor_ensure_default(endpoint=endpoint)
