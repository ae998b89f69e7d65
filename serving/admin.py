"""Read-only admin: endpoints change only through the services, behind the governance gate and
with their audit events."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin as ReadOnly
from serving.models import Endpoint, EndpointRevision, PredictionRecord


@admin.register(Endpoint)
class EndpointAdmin(ReadOnly):
    list_display = ("name", "project", "state", "live_revision", "created_at")
    search_fields = ("name",)


@admin.register(EndpointRevision)
class EndpointRevisionAdmin(ReadOnly):
    list_display = ("endpoint", "number", "action", "state", "primary", "canary", "canary_share", "created_by",
                    "published_at")
    list_filter = ("state", "action")


@admin.register(PredictionRecord)
class PredictionRecordAdmin(ReadOnly):
    list_display = ("prediction_id", "endpoint", "revision", "model_version_id", "role", "latency_ms", "at")
    list_filter = ("role",)
