from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state__in=[JobState.QUEUED, JobState.RUNNING])

    def of_kind(self, kind: str):
        return self.filter(kind=kind)

    def for_object(self, obj):
        return self.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))


class Job(models.Model):
    """One piece of background work and everything a person wants to know about it."""

    kind = models.CharField(max_length=64, db_index=True)
    queue = models.CharField(max_length=32, default="default")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="job_progress_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"{self.label} #{self.pk}"

    @property
    def label(self) -> str:
        from workers.kinds import kind_label

        return kind_label(self.kind)

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class JobPoint(models.Model):
    """One point of a series a running job reports (a validation metric per boosting round or
    epoch), so its page draws the curve while it runs."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="points")
    series = models.CharField(max_length=60)
    step = models.PositiveIntegerField()
    value = models.FloatField()

    class Meta:
        ordering = ["series", "step"]
        indexes = [models.Index(fields=["job", "series", "step"])]


class JobLogLine(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_lines")
    at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    text = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.text}"


class Schedule(models.Model):
    """A job kind started on a cron schedule with fixed parameters (fired by Celery beat).

    Generic: the app that owns the kind sets and stops its schedules through
    ``workers.services``; beat's own tables are written only here.
    """

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    cron = models.CharField(max_length=100, help_text="Five-field cron expression, in TIME_ZONE")
    enabled = models.BooleanField(default=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return self.name

    @property
    def description(self) -> str:
        from workers.cron import describe

        return describe(self.cron)


class ScheduleSlot(models.Model):
    """One firing of a schedule. Unique per schedule and slot, so a duplicated or redelivered
    beat message starts at most one job."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="slots")
    slot = models.DateTimeField()
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-slot"]
        constraints = [models.UniqueConstraint(fields=["schedule", "slot"], name="schedule_slot_once")]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.slot:%Y-%m-%d %H:%M}"
