from django.contrib import admin

from observability.models import Alert, Label, Monitor, MonitorRun, QualityPromise


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "name", "schedule", "window_minutes", "enabled")
    readonly_fields = [f.name for f in Monitor._meta.fields]


@admin.register(MonitorRun)
class MonitorRunAdmin(admin.ModelAdmin):
    list_display = ("monitor", "window_start", "window_end", "row_count", "status")
    list_filter = ("status",)
    readonly_fields = [f.name for f in MonitorRun._meta.fields]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "condition", "state", "opened_at")
    list_filter = ("state", "condition")
    readonly_fields = [f.name for f in Alert._meta.fields]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("prediction_id", "endpoint", "value", "time")
    readonly_fields = [f.name for f in Label._meta.fields]


@admin.register(QualityPromise)
class QualityPromiseAdmin(admin.ModelAdmin):
    list_display = ("project", "metric", "target", "set_by", "set_at")
    readonly_fields = [f.name for f in QualityPromise._meta.fields]
