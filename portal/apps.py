from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.urls import register_converter

        from portal.converters import IdConverter

        register_converter(IdConverter, "id")

        from portal import signals  # noqa: F401  (audits sign-ins and sign-outs)
