"""Endpoints, their immutable revisions, and the prediction log the serving tier writes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import MLProject, ModelVersion


class EndpointState(models.TextChoices):
    SERVING = "serving", "Serving"
    UNDEPLOYED = "undeployed", "Undeployed"


class RevisionAction(models.TextChoices):
    DEPLOY = "deploy", "Deploy"
    CANARY_SET = "canary_set", "Set canary"
    CANARY_CLEAR = "canary_clear", "Clear canary"
    CANARY_PROMOTE = "canary_promote", "Promote canary"
    SHADOW_ADD = "shadow_add", "Add shadow"
    SHADOW_REMOVE = "shadow_remove", "Remove shadow"
    ROLLBACK = "rollback", "Roll back"
    UNDEPLOY = "undeploy", "Undeploy"


class RevisionState(models.TextChoices):
    PENDING = "pending", "Pending"  # its deploy job is checking it
    LIVE = "live", "Live"  # published; live until a later revision is
    FAILED = "failed", "Failed"  # never served: the deploy job says why


class Endpoint(models.Model):
    """A named place predictions are asked for. What it serves is its live revision."""

    name = models.SlugField(max_length=100, unique=True)
    project = models.ForeignKey(MLProject, on_delete=models.PROTECT, related_name="endpoints")
    state = models.CharField(max_length=16, choices=EndpointState.choices, default=EndpointState.UNDEPLOYED)
    live_revision = models.ForeignKey("EndpointRevision", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EndpointRevision(models.Model):
    """One configuration of an endpoint: who asked for it, when, why, and the job that checked it.
    Never changed after it is published; its ``state`` only says whether it went live."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=RevisionAction.choices)
    state = models.CharField(max_length=16, choices=RevisionState.choices, default=RevisionState.PENDING)
    primary = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    canary = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    canary_share = models.PositiveSmallIntegerField(default=0)
    shadows = models.ManyToManyField(ModelVersion, blank=True, related_name="+")
    feature_views = models.ManyToManyField("FeatureView", blank=True, related_name="+",
                                           help_text="Views named at deploy; else those the primary was trained from")
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    job = models.ForeignKey("workers.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    checks = models.JSONField(default=dict, blank=True, help_text="What the deploy job measured, per version")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "number"], name="endpoint_revision_number_unique"),
            models.CheckConstraint(condition=models.Q(canary_share__lte=50), name="canary_share_at_most_50"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} r{self.number}"

    @property
    def serves_nothing(self) -> bool:
        return self.primary_id is None

    @property
    def primary_share(self) -> int:
        return 100 - (self.canary_share if self.canary_id else 0)


class PredictionRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    CANARY = "canary", "Canary"
    SHADOW = "shadow", "Shadow"


class PredictionRecord(models.Model):
    """One logged prediction, drained from the serving tier's Redis stream.

    Narrow and indexed by endpoint and time, so windows are cheap to read; a shadow's row shares
    the prediction id of the answer it shadowed.
    """

    prediction_id = models.CharField(max_length=40)
    endpoint = models.CharField(max_length=100)
    revision = models.PositiveIntegerField()
    model_version_id = models.BigIntegerField()
    role = models.CharField(max_length=8, choices=PredictionRole.choices)
    inputs = models.JSONField()
    output = models.JSONField()
    latency_ms = models.FloatField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["endpoint", "at"]), models.Index(fields=["model_version_id", "at"])]
        constraints = [
            models.UniqueConstraint(fields=["prediction_id", "role", "model_version_id"], name="prediction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.prediction_id} ({self.role})"


# --- the feature store -----------------------------------------------------------------------

class OnlineTier(models.TextChoices):
    REDIS = "redis", "Redis (low latency)"
    SQL = "sql", "SQL (low cost)"


class FeatureView(models.Model):
    """Features of one entity (``entity_key``), read from a registered dataset with an event-time
    column, kept online (latest value per entity) in one tier. Owned by a project: its team edits
    it, everyone reads it."""

    project = models.ForeignKey(MLProject, on_delete=models.PROTECT, related_name="feature_views")
    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    entity_key = models.CharField(max_length=100)
    features = models.JSONField(default=list, help_text='[{"name", "type"}], type one of float, int, bool, string')
    source = models.ForeignKey("registry.Dataset", on_delete=models.PROTECT, related_name="feature_views")
    event_time_column = models.CharField(max_length=200)
    online_tier = models.CharField(max_length=8, choices=OnlineTier.choices, default=OnlineTier.REDIS)
    moving_to = models.CharField(max_length=8, choices=OnlineTier.choices, blank=True,
                                 help_text="The tier a move job is copying the view to")
    ttl_seconds = models.PositiveIntegerField(default=0, help_text="How long a value is served after its event "
                                                                   "time; 0 for as long as it is the latest")
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron expression for materialization")
    materialized_until = models.FloatField(null=True, blank=True,
                                           help_text="The newest event time loaded (seconds since the epoch)")
    last_materialized_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="What the last materialization or move measured")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.features]

    def spec(self, tier: str | None = None):
        from serving.feature_store.spec import ViewSpec

        return ViewSpec(id=self.pk, name=self.name, entity_key=self.entity_key,
                        features=tuple((f["name"], f["type"]) for f in self.features),
                        ttl_seconds=self.ttl_seconds, tier=tier or self.online_tier)


class OnlineFeature(models.Model):
    """The SQL tier: one row per view and entity holding its packed latest values (one table for
    every view; see ``serving.feature_store.sql``)."""

    id = models.BigAutoField(primary_key=True)
    view = models.ForeignKey(FeatureView, on_delete=models.CASCADE, related_name="+")
    entity = models.CharField(max_length=200)
    data = models.BinaryField()
    event_time = models.FloatField()
    expires_at = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "entity"], name="online_feature_once")]
