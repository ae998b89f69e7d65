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


class PodLeadQuerySet(models.QuerySet):
    def active(self):
        """Leads who can still act: a deactivated person keeps the role on record until it is
        reassigned, but reviews nothing and is waited for by nobody."""
        return self.filter(user__is_active=True)


class PodLead(models.Model):
    """The person who leads one function in one pod."""

    pod = models.ForeignKey(Pod, on_delete=models.CASCADE, related_name="leads")
    function = models.CharField(max_length=32, choices=Function.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="pod_leads")

    objects = PodLeadQuerySet.as_manager()

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

    def _raw_delete(self, using):
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what to which object, from which state to which. Append-only.

    The database refuses updates, deletes and TRUNCATE (triggers, see migrations 0002 and 0005);
    the model and its queryset (also as the base manager, which related lookups use) refuse
    updates and deletes, and the admin offers neither. ``manage.py flush`` erases the log only
    under the test settings (see portal/management/commands/flush.py).
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
        base_manager_name = "objects"

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


# --- in-app notifications and who wants them how ------------------------------------------------

class NotificationKind(models.TextChoices):
    REVIEW_OWED = "review_owed", "A pod review I owe"
    VOTE_OWED = "vote_owed", "A Council vote I owe"
    PROPOSAL_STATE = "proposal_state", "My proposal changes state"
    WATCHED_DECISION = "watched_decision", "A decision on a proposal I watch"
    JOB_FINISHED = "job_finished", "A training or deployment I started ends"
    ALERT = "alert", "An alert on a model I own"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", "In-app only"
    EMAIL = "email", "Email"
    DIGEST = "digest", "Daily digest"


# What a person gets before they choose: an email for what waits on them (a review, a vote) and for
# alerts on their models; everything else only in the portal. Documented on the preferences form.
DEFAULT_CHANNELS: dict[str, str] = {
    NotificationKind.REVIEW_OWED: NotificationChannel.EMAIL,
    NotificationKind.VOTE_OWED: NotificationChannel.EMAIL,
    NotificationKind.ALERT: NotificationChannel.EMAIL,
    NotificationKind.PROPOSAL_STATE: NotificationChannel.IN_APP,
    NotificationKind.WATCHED_DECISION: NotificationChannel.IN_APP,
    NotificationKind.JOB_FINISHED: NotificationChannel.IN_APP,
}


class InAppNotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)

    def for_user(self, user):
        return self.filter(recipient=user)


class InAppNotification(models.Model):
    """One thing that happened which one person should know about, shown under the bell.

    ``dedupe_key`` names the event: the same event notifies the same person once. ``channel`` is
    how the person wanted this kind when it happened (the email itself is a row of the outbox,
    ``Notification``); a digest row waits for the daily digest until ``digested_at`` is set.
    """

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="inbox")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200)
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices, default=NotificationChannel.IN_APP)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)

    objects = InAppNotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="inapp_notification_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="inapp_notification_unread"),
            models.Index(fields=["recipient", "-created_at"], name="inapp_notification_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """How one person wants one kind of notification; no row means the kind's default."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_user_kind")]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_kind_display()} by {self.get_channel_display()}"
