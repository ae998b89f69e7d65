from django.contrib import admin

from observability.models import Alert, Label, Monitor, MonitorRun, QualityPromise
from portal.admin import ReadOnlyAdmin


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ("endpoint", "name", "schedule", "window_minutes", "enabled")


@admin.register(MonitorRun)
class MonitorRunAdmin(ReadOnlyAdmin):
    list_display = ("monitor", "window_start", "window_end", "row_count", "status")
    list_filter = ("status",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("endpoint", "condition", "state", "opened_at")
    list_filter = ("state", "condition")


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = ("prediction_id", "endpoint", "value", "time")


@admin.register(QualityPromise)
class QualityPromiseAdmin(ReadOnlyAdmin):
    list_display = ("project", "metric", "target", "set_by", "set_at")
