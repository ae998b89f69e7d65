"""Monitors on deployments, their runs (a time series per feature and check), ground-truth labels,
alerts, and the quality a project promised."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.models import MLProject
from serving.models import Endpoint


class Check(models.TextChoices):
    MISSING = "missing", "Missing rate"
    OUT_OF_RANGE = "out_of_range", "Out of range"
    PSI = "psi", "PSI"
    KS = "ks", "Kolmogorov-Smirnov"
    JS = "js", "Jensen-Shannon"
    PREDICTION = "prediction", "Prediction drift"
    QUALITY = "quality", "Model quality"
    AGREEMENT = "agreement", "Canary and shadow agreement"


class Monitor(models.Model):
    """What to check on an endpoint's traffic, over which window, against which thresholds, how often."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="monitors")
    name = models.SlugField(max_length=100, default="default")
    checks = models.JSONField(default=list, help_text="Check names; see Check")
    features = models.JSONField(default=list, blank=True, help_text="Features to check; empty for all")
    window_minutes = models.PositiveIntegerField(default=60)
    thresholds = models.JSONField(default=dict, blank=True, help_text="Overrides of the default thresholds")
    schedule = models.CharField(max_length=100, default="*/15 * * * *")
    clean_runs_to_resolve = models.PositiveSmallIntegerField(
        default=3, help_text="Clean runs in a row after which an alert resolves itself; 0 never")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint__name", "name"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "name"], name="monitor_name_unique")]

    def __str__(self) -> str:
        return f"{self.endpoint.name}/{self.name}"

    @property
    def schedule_name(self) -> str:
        return f"monitor:{self.pk}"


class RunStatus(models.TextChoices):
    OK = "ok", "OK"
    WARN = "warn", "Warning"
    ALERT = "alert", "Alert"
    NOT_ENOUGH_DATA = "not_enough_data", "Not enough data"


class MonitorRun(models.Model):
    """One evaluation of a monitor over one window of logged predictions."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey("workers.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    model_version_id = models.BigIntegerField(null=True, blank=True, help_text="The primary version in the window")
    row_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    features = models.JSONField(default=dict)
    prediction = models.JSONField(default=dict)
    quality = models.JSONField(default=dict)
    agreement = models.JSONField(default=dict)
    dataset_drift = models.BooleanField(default=False)
    drifted = models.JSONField(default=list, help_text="Features whose status is alert")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-window_end", "-id"]
        indexes = [models.Index(fields=["monitor", "window_end"])]

    def __str__(self) -> str:
        return f"{self.monitor} {self.window_start:%Y-%m-%d %H:%M}-{self.window_end:%H:%M} {self.status}"


class MonitorPoint(models.Model):
    """One number of one run: the time series charts read (feature "" is the prediction)."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="points")
    run = models.ForeignKey(MonitorRun, on_delete=models.CASCADE, related_name="points")
    at = models.DateTimeField()
    feature = models.CharField(max_length=200, blank=True)
    statistic = models.CharField(max_length=40)
    value = models.FloatField()

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["monitor", "statistic", "at"])]


class Label(models.Model):
    """The ground truth of one prediction, sent after the fact; sent again, it replaces the earlier."""

    prediction_id = models.CharField(max_length=40, unique=True)
    endpoint = models.CharField(max_length=100, db_index=True)
    value = models.JSONField()
    time = models.DateTimeField(help_text="When the outcome happened (defaults to when it was received)")
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-received_at"]


class Condition(models.TextChoices):
    FEATURE_DRIFT = "feature_drift", "Feature drift"
    DATASET_DRIFT = "dataset_drift", "Dataset drift"
    PREDICTION_DRIFT = "prediction_drift", "Prediction drift"
    QUALITY = "quality", "Model quality below its limit"
    PROMISE = "promise", "Promise missed"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """A breached threshold: one per monitor and condition while it is not resolved."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    endpoint = models.CharField(max_length=100, db_index=True)
    condition = models.CharField(max_length=20, choices=Condition.choices)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    summary = models.TextField()
    features = models.JSONField(default=list)
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by_run = models.ForeignKey(MonitorRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_breach_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True, help_text="When the condition last stopped holding")
    clean_runs = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    note = models.TextField(blank=True)
    agenda_item_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["monitor", "condition"], condition=~Q(state="resolved"),
                                    name="one_unresolved_alert_per_condition"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.get_condition_display()} ({self.state})"

    @property
    def is_resolved(self) -> bool:
        return self.state == AlertState.RESOLVED


class QualityPromise(models.Model):
    """The proposal's success metric, tied by the technical lead to a model quality metric and a target."""

    project = models.OneToOneField(MLProject, on_delete=models.CASCADE, related_name="quality_promise")
    metric = models.CharField(max_length=20)
    target = models.FloatField()
    success_metric = models.TextField(blank=True, help_text="The proposal's success metric, in its words")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    set_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.project.name}: {self.metric} {'≤' if self.lower_is_better else '≥'} {self.target:g}"

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    def kept_by(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.target if self.lower_is_better else value >= self.target


LOWER_IS_BETTER = {"mae", "rmse", "log_loss"}
QUALITY_METRICS = {"regression": ["mae", "rmse"], "binary": ["auc", "log_loss", "precision", "recall"],
                   "multiclass": ["log_loss", "accuracy"]}
