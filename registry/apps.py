from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from proposals.signals import proposal_approved
        from registry.receivers import on_proposal_approved

        proposal_approved.connect(on_proposal_approved, dispatch_uid="registry.project_create_for_proposal")
