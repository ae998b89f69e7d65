from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from proposals.signals import proposal_approved
        from registry.receivers import on_migrated, on_proposal_approved

        proposal_approved.connect(on_proposal_approved, dispatch_uid="registry.project_create_for_proposal")
        post_migrate.connect(on_migrated, sender=self, dispatch_uid="registry.mlflow_store_initialise")
