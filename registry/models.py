from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from proposals.models import Proposal


class ProjectState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class MLProject(models.Model):
    """The ML project an approved proposal becomes. Owned by the proposal's technical lead."""

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="project")
    name = models.SlugField(max_length=100, unique=True, help_text="Also the name of its first MLflow registered model")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="ml_projects", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The Council chair suspends a project (after an alert reviewed at ML Review, say): its
    # endpoints keep serving unless undeployed, and nothing new is deployed until reinstated.
    state = models.CharField(max_length=16, choices=ProjectState.choices, default=ProjectState.ACTIVE)
    state_rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "ML project"

    def __str__(self) -> str:
        return self.title or self.name


class RegisteredModel(models.Model):
    """A registered model in MLflow, known to the portal by its (unique) MLflow name."""

    project = models.ForeignKey(MLProject, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "id"]

    def __str__(self) -> str:
        return self.name


class DatasetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


class Dataset(models.Model):
    """A tabular file the portal keeps under its content hash; never changed once registered."""

    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500, help_text="Relative to settings.DATASETS_FOLDER")
    sha256 = models.CharField(max_length=64, db_index=True)
    format = models.CharField(max_length=16, choices=DatasetFormat.choices)
    size_bytes = models.PositiveBigIntegerField()
    rows = models.PositiveIntegerField()
    # One entry per column, in file order: name, dtype, kind (numeric / boolean / categorical /
    # datetime), missing_rate, unique_count and a few sample values.
    schema = models.JSONField(default=list)
    preview = models.JSONField(default=dict, help_text='{"columns": [...], "rows": [[...], ...]}')
    original_filename = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets"
    )
    # The project whose team registered it: only they add its newer files, and only its datasets feed
    # the project's scheduled retraining. Empty for a dataset shared with every project.
    project = models.ForeignKey("registry.MLProject", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="datasets")
    # Where a built dataset came from: for a training set, {"kind": "training_set", "views":
    # [{"id", "name", "features", "ttl_seconds"}], "entities": dataset id, "timestamp_column",
    # "cut_off", "rows", "job"}. Empty for an uploaded file.
    lineage = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["name", "sha256"], name="dataset_name_content_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:8]})"

    @property
    def file_path(self):
        return settings.DATASETS_FOLDER / self.path

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def column(self, name: str) -> dict | None:
        return next((c for c in self.schema if c["name"] == name), None)


class Task(models.TextChoices):
    REGRESSION = "regression", "Regression"
    BINARY = "binary", "Binary classification"
    MULTICLASS = "multiclass", "Multiclass classification"


class Framework(models.TextChoices):
    LIGHTGBM = "lightgbm", "LightGBM"
    TORCH = "torch", "PyTorch MLP"


class TrainingConfig(models.Model):
    """What one training run was asked to do. Kept unchanged, so a version can be rebuilt from it."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="training_configs")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_configs")
    target = models.CharField(max_length=200)
    numeric_features = models.JSONField(default=list)
    categorical_features = models.JSONField(default=list)
    task = models.CharField(max_length=16, choices=Task.choices)
    framework = models.CharField(max_length=16, choices=Framework.choices)
    params = models.JSONField(default=dict, help_text="The framework's defaults merged with what was asked for")
    validation_fraction = models.FloatField(default=0.2)
    seed = models.PositiveIntegerField(default=0)
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron expression for retraining; empty for none")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_framework_display()} {self.get_task_display().lower()} of {self.target} ({self.registered_model})"

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]


class ModelVersion(models.Model):
    """A version registered in MLflow by a portal training job."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(help_text="MLflow's version number")
    mlflow_run_id = models.CharField(max_length=64)
    training_job = models.ForeignKey(
        "workers.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    training_config = models.ForeignKey(
        TrainingConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="model_versions")
    metrics = models.JSONField(default=dict)
    params = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registered_model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "version"], name="model_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.registered_model} v{self.version}"


class Alias(models.TextChoices):
    CHAMPION = "champion", "Champion"
    CHALLENGER = "challenger", "Challenger"


class AliasMoveState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class AliasEventQuerySet(models.QuerySet):
    def applied(self):
        return self.filter(state=AliasMoveState.APPLIED)


class AliasEvent(models.Model):
    """One move of an MLflow alias onto a version: the history behind "which was champion at T".

    Recorded as ``pending`` before MLflow is asked, then ``applied`` or ``failed``: the call to
    MLflow happens outside any transaction, and a failed attempt stays readable.
    """

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="alias_events")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="alias_events")
    previous_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    alias = models.CharField(max_length=16, choices=Alias.choices)
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=16, choices=AliasMoveState.choices, default=AliasMoveState.APPLIED)
    error = models.TextField(blank=True)

    objects = AliasEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.model_version}"
