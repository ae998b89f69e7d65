from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Function(models.TextChoices):
    PM = "pm", "Product manager"
    EM = "em", "Engineering manager"
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    ML_ENGINEER = "ml_engineer", "ML engineer"
    ANALYST = "analyst", "Analyst"
    DS_MANAGER = "ds_manager", "Data science manager"
    ANALYTICS_MANAGER = "analytics_manager", "Analytics manager"
    ML_INFRA_ENGINEER = "ml_infra_engineer", "ML infrastructure engineer"


# The functions whose pod lead reviews proposals from that pod (the charter's
# "cross-functional leads").
LEAD_FUNCTIONS = (Function.PM, Function.EM, Function.DS_MANAGER, Function.ANALYTICS_MANAGER)


class Pod(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    full_name = models.CharField(max_length=200, blank=True)
    function = models.CharField(max_length=32, choices=Function.choices, blank=True)
    pod = models.ForeignKey(Pod, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


class PodLead(models.Model):
    """The person who leads one function in one pod."""

    pod = models.ForeignKey(Pod, on_delete=models.CASCADE, related_name="leads")
    function = models.CharField(max_length=32, choices=Function.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="pod_leads")

    class Meta:
        ordering = ["pod__name", "function"]
        constraints = [models.UniqueConstraint(fields=["pod", "function"], name="one_lead_per_pod_function")]

    def __str__(self) -> str:
        return f"{self.pod} {self.get_function_display()} lead: {self.user}"


class TermQuerySet(models.QuerySet):
    def active_on(self, day=None):
        day = day or timezone.localdate()
        return self.filter(Q(start_date__lte=day) & (Q(end_date__isnull=True) | Q(end_date__gte=day)))


class CouncilMembership(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="council_memberships")
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)

    objects = TermQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="council_membership_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on the council from {self.start_date}"

    def clean(self) -> None:
        if self.end_date and self.end_date < self.start_date:
            raise ValidationError("A membership cannot end before it starts.")


class ChairTerm(models.Model):
    """A term as ML Council chair. The chair breaks ties and publishes minutes."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="chair_terms")
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField()

    objects = TermQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="chair_term_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} chair {self.start_date} to {self.end_date}"


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only and cannot be changed.")

    def delete(self):
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what to which object, from which state to which. Append-only.

    The database refuses updates (a trigger, see the migration); the model and its
    queryset refuse updates and deletes, and the admin offers neither.
    """

    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verb = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["object_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor or 'system'} {self.verb} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only and cannot be deleted.")

    @property
    def actor_name(self) -> str:
        return self.actor.display_name if self.actor else "System"


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One email to one person. ``dedupe_key`` makes sure nobody gets the same email twice."""

    recipient = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    email = models.EmailField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=16, choices=NotificationState.choices, default=NotificationState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.email}"
