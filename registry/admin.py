"""Read-only admin: every registry row is written by a service (with its audit event)."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin as ReadOnly
from registry.models import AliasEvent, Dataset, MLProject, ModelVersion, RegisteredModel, TrainingConfig


@admin.register(MLProject)
class MLProjectAdmin(ReadOnly):
    list_display = ("name", "title", "owner", "proposal", "created_at")
    search_fields = ("name", "title")


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnly):
    list_display = ("name", "project", "created_at")
    search_fields = ("name",)


@admin.register(Dataset)
class DatasetAdmin(ReadOnly):
    list_display = ("name", "format", "rows", "size_bytes", "sha256", "uploaded_by", "created_at")
    search_fields = ("name", "sha256")


@admin.register(TrainingConfig)
class TrainingConfigAdmin(ReadOnly):
    list_display = ("id", "registered_model", "framework", "task", "target", "dataset", "seed", "created_at")
    list_filter = ("framework", "task")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnly):
    list_display = ("registered_model", "version", "mlflow_run_id", "training_job", "created_at")


@admin.register(AliasEvent)
class AliasEventAdmin(ReadOnly):
    list_display = ("registered_model", "alias", "model_version", "previous_version", "moved_by", "at")
