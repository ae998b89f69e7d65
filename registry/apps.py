from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from portal import duties
        from proposals.signals import proposal_approved
        from registry import history
        from registry.receivers import on_migrated, on_proposal_approved
        from workers import kinds
        from workers.system import register_probe

        kinds.register("project_create", label="Project creation", queue="default",
                       handler="registry.jobs.project_create_run", system=True,
                       describe="registry.job_names.project_create_describe")
        kinds.register("training", label="Model training", queue="training", handler="registry.training.training_run",
                       notify_starter=True, describe="registry.job_names.training_describe",
                       may_manage="registry.permissions.can_manage_project_job")
        kinds.register("training_retrain", label="Scheduled retraining", queue="default",
                       handler="registry.jobs.training_retrain_run", system=True,
                       describe="registry.job_names.training_retrain_describe")
        kinds.register("dataset_register", label="Dataset registration", queue="default",
                       handler="registry.jobs.dataset_register_run", notify_starter=True,
                       describe="registry.job_names.dataset_register_describe",
                       may_manage="registry.permissions.can_manage_project_job")
        kinds.register("registered_model_setup", label="MLflow model setup", queue="default",
                       handler="registry.jobs.registered_model_setup_run", system=True)
        kinds.register("registry_reconcile", label="Registry reconciliation", queue="default",
                       handler="registry.jobs.registry_reconcile_run", default_schedule="40 * * * *", system=True)
        register_probe("mlflow", _probe_mlflow)
        history.register()
        duties.register("registry", _open_duties_of)

        proposal_approved.connect(on_proposal_approved, dispatch_uid="registry.project_create_for_proposal")
        post_migrate.connect(on_migrated, sender=self, dispatch_uid="registry.mlflow_store_initialise")


def _probe_mlflow() -> str:
    from registry import mlflow_client

    return mlflow_client.ping()


def _open_duties_of(user):
    from registry.selectors import open_duties_of

    return open_duties_of(user)
