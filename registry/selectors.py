"""Reads of the registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from portal.errors import DomainError
from portal.lists import Sort
from portal.redact import redact
from registry.models import Alias, AliasEvent, Dataset, MLProject, ModelVersion, RegisteredModel, TrainingConfig

logger = logging.getLogger(__name__)


def project_list() -> QuerySet[MLProject]:
    return MLProject.objects.select_related("proposal", "owner").prefetch_related("models")


def project_list_trainable(*, user) -> QuerySet[MLProject]:
    """The projects ``user`` may train and add datasets to: those they lead or are on the team of
    (every project for staff), by title."""
    projects = MLProject.objects.order_by("title")
    if user.is_staff or user.is_superuser:
        return projects
    return projects.filter(Q(owner=user) | Q(team=user)).distinct()


def project_get(*, project_id: int) -> MLProject:
    return get_object_or_404(project_list().prefetch_related("team"), pk=project_id)


def project_for_proposal(*, proposal_id: int) -> MLProject | None:
    return project_list().filter(proposal_id=proposal_id).first()


DATASET_SORT = Sort({
    "name": ("name",),
    "rows": ("rows",),
    "size": ("size_bytes",),
    "uploaded_by": ("uploaded_by__full_name", "uploaded_by__username"),
    "created": ("created_at",),
}, default="-created")


def _person_matches(prefix: str, text: str) -> Q:
    return Q(**{f"{prefix}__full_name__icontains": text}) | Q(**{f"{prefix}__username__icontains": text})


def dataset_list(*, q: str = "", mine: bool = False, sort: str | None = None, user=None) -> QuerySet[Dataset]:
    """Datasets, newest first unless ``sort`` (a ``DATASET_SORT`` key) says otherwise. ``q`` finds a
    name, the uploaded file's name or the person who uploaded it; ``mine`` keeps what ``user`` uploaded."""
    qs = Dataset.objects.select_related("uploaded_by", "project")
    if mine and user is not None and user.is_authenticated:
        qs = qs.filter(uploaded_by=user)
    text = (q or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(original_filename__icontains=text)
                       | _person_matches("uploaded_by", text))
    if sort:
        qs = qs.order_by(*DATASET_SORT.order_by(sort))
    return qs


def dataset_get(*, dataset_id: int) -> Dataset:
    return get_object_or_404(dataset_list(), pk=dataset_id)


def dataset_frame(*, dataset: Dataset):
    """The dataset's rows, after checking the stored file is still the one registered."""
    from registry import datasets as dataset_files

    path = dataset.file_path
    if not path.is_file():
        raise DomainError(f"The file of dataset {dataset} is missing from the data folder ({path}).")
    if dataset_files.sha256_of(path) != dataset.sha256:
        raise DomainError(f"The file of dataset {dataset} changed since it was registered; register it again.")
    return dataset_files.read_frame(path, dataset.format)


def model_version_list(*, model: RegisteredModel | None = None, project: MLProject | None = None) -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.select_related(
        "registered_model__project", "dataset", "training_config", "training_job", "created_by"
    )
    if model is not None:
        qs = qs.filter(registered_model=model)
    if project is not None:
        qs = qs.filter(registered_model__project=project)
    return qs


MODEL_VERSION_SORT = Sort({
    "model": ("registered_model__name",),
    "project": ("registered_model__project__title", "registered_model__name"),
    "dataset": ("dataset__name",),
    "created": ("created_at",),
}, default="-created", tiebreak=("-version", "-id"))  # a model's newest version first, whichever way


def model_version_list_overview(*, q: str = "", mine: bool = False, sort: str | None = None,
                                user=None) -> QuerySet[ModelVersion]:
    """The models page's rows: every registered version with its current aliases (one query).

    ``q`` finds a model, project or dataset by name, a metric by its name (``auc`` finds the
    versions that report an AUC; ``log loss`` finds ``log_loss``), and people: who trained it and the
    project's owner and team. ``mine`` keeps the versions of projects ``user`` owns or is on the team
    of. ``sort`` is a ``MODEL_VERSION_SORT`` key."""
    qs = model_versions_with_aliases(model_version_list().select_related("created_by"))
    if mine and user is not None and user.is_authenticated:
        qs = qs.filter(registered_model__project__in=_mine_projects(user))
    text = (q or "").strip()
    if text:
        metric = text.lower().replace(" ", "_")
        projects = MLProject.objects.filter(
            Q(title__icontains=text) | Q(name__icontains=text) | _person_matches("owner", text)
            | _person_matches("team", text)).values("pk")
        qs = qs.filter(Q(registered_model__name__icontains=text) | Q(dataset__name__icontains=text)
                       | Q(registered_model__project__in=projects) | _person_matches("created_by", text)
                       | Q(metrics__has_key=metric))
    return qs.order_by(*MODEL_VERSION_SORT.order_by(sort))


def model_version_get(*, version_id: int) -> ModelVersion:
    return get_object_or_404(model_version_list(), pk=version_id)


def training_job_list(*, project: MLProject | None = None):
    from workers.models import Job

    jobs = Job.objects.of_kind("training").select_related("started_by")
    return jobs.for_object(project) if project is not None else jobs


PROJECT_SORT = Sort({
    "title": ("title",),
    "owner": ("owner__full_name", "owner__username"),
    "versions": ("version_count",),
    "created": ("created_at",),
}, default="-created")


def _mine_projects(user) -> QuerySet[MLProject]:
    """The projects ``user`` owns or is on the team of."""
    return MLProject.objects.filter(Q(owner=user) | Q(team=user)).values("pk")


def project_list_overview(*, q: str = "", mine: bool = False, sort: str | None = None,
                          user=None) -> QuerySet[MLProject]:
    """The projects page's rows: each project with its number of versions and the ids of its latest
    version and latest training job, all in the one query; ``project_overview_attach`` then loads
    those versions and jobs for a whole page at once.

    ``q`` finds a project by its title or name, its models' names, or people: its owner and team, by
    name or username. ``mine`` keeps the projects ``user`` owns or is on the team of. ``sort`` is a
    ``PROJECT_SORT`` key."""
    from django.db.models import CharField, Count, OuterRef, Subquery
    from django.db.models.functions import Cast, Coalesce

    from workers.models import Job

    versions = ModelVersion.objects.filter(registered_model__project=OuterRef("pk")).order_by()
    jobs = Job.objects.of_kind("training").filter(object_type=MLProject._meta.model_name,
                                                  object_id=Cast(OuterRef("pk"), CharField()))
    qs = project_list().annotate(
        version_count=Coalesce(Subquery(versions.values("registered_model__project").annotate(n=Count("pk"))
                                        .values("n")[:1]), 0),
        latest_version_id=Subquery(versions.order_by("-created_at", "-id").values("pk")[:1]),
        last_training_id=Subquery(jobs.order_by("-created_at", "-id").values("pk")[:1]),
    )
    if mine and user is not None and user.is_authenticated:
        qs = qs.filter(pk__in=_mine_projects(user))
    text = (q or "").strip()
    if text:
        found = MLProject.objects.filter(
            Q(title__icontains=text) | Q(name__icontains=text) | Q(models__name__icontains=text)
            | _person_matches("owner", text) | _person_matches("team", text)).values("pk")
        qs = qs.filter(pk__in=found)
    if sort:
        qs = qs.order_by(*PROJECT_SORT.order_by(sort))
    return qs


def project_overview_attach(projects) -> None:
    """Sets ``latest_version`` and ``last_training`` (or None) on each project of
    ``project_list_overview``: two queries for the whole page."""
    from workers.models import Job

    projects = list(projects)
    versions = ModelVersion.objects.in_bulk([p.latest_version_id for p in projects if p.latest_version_id])
    jobs = Job.objects.in_bulk([p.last_training_id for p in projects if p.last_training_id])
    for project in projects:
        project.latest_version = versions.get(project.latest_version_id)
        project.last_training = jobs.get(project.last_training_id)


def registered_model_named(*, name: str) -> RegisteredModel | None:
    return RegisteredModel.objects.select_related("project").filter(name=name).first()


def alias_event_list(*, model: RegisteredModel) -> QuerySet[AliasEvent]:
    """Every move of ``model``'s aliases, newest first."""
    return AliasEvent.objects.filter(registered_model=model).select_related(
        "model_version", "previous_version", "moved_by", "registered_model"
    )


def alias_holder_at(*, model: RegisteredModel, alias: str, at) -> ModelVersion | None:
    """The version ``alias`` pointed at, at time ``at`` (None before it was first set)."""
    event = (AliasEvent.objects.applied().filter(registered_model=model, alias=alias, at__lte=at)
             .select_related("model_version").order_by("-at", "-id").first())
    return event.model_version if event else None


def aliases_current(*, model: RegisteredModel) -> dict[str, ModelVersion]:
    current = {}
    for alias in Alias.values:
        event = (AliasEvent.objects.applied().filter(registered_model=model, alias=alias)
                 .select_related("model_version").first())
        if event is not None:
            current[alias] = event.model_version
    return current


def model_versions_with_aliases(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """``versions``, each annotated with ``<alias>_holder_id`` for every alias: the version that alias
    of its registered model points at now (as ``aliases_current``), in the same query."""
    from django.db.models import OuterRef, Subquery

    return versions.annotate(**{
        f"{alias}_holder_id": Subquery(
            AliasEvent.objects.applied().filter(registered_model=OuterRef("registered_model"), alias=alias)
            .order_by("-at", "-id").values("model_version_id")[:1]
        )
        for alias in Alias.values
    })


def aliases_annotated(version: ModelVersion) -> list[str] | None:
    """The aliases pointing at ``version`` now, from ``model_versions_with_aliases``; None when it
    was not loaded through it."""
    names = [f"{alias}_holder_id" for alias in Alias.values]
    if not all(hasattr(version, name) for name in names):
        return None
    return [alias for alias, name in zip(Alias.values, names) if getattr(version, name) == version.pk]


# --- pages -------------------------------------------------------------------------------

def dataset_model_versions(*, dataset: Dataset) -> QuerySet[ModelVersion]:
    return model_version_list().filter(dataset=dataset).order_by("-created_at", "-id")


def data_folder_files(*, limit: int = 200) -> list[str]:
    """Files under the data folder that could be registered by name (not the portal's own store)."""
    from django.conf import settings

    from registry.datasets import EXTENSIONS

    folder = Path(settings.DATASETS_FOLDER)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in ("by-sha256", "incoming") or path.suffix.lower() not in EXTENSIONS or not path.is_file():
            continue
        found.append(relative.as_posix())
        if len(found) >= limit:
            break
    return found


def key_metric(version: ModelVersion) -> tuple[str, float] | None:
    """The metric that ranks versions of this task (see ``metrics.PRIMARY_METRIC``), if recorded."""
    from registry.metrics import PRIMARY_METRIC

    name = PRIMARY_METRIC.get((version.params or {}).get("task", ""), ("", False))[0]
    value = (version.metrics or {}).get(name)
    return (name, value) if name and value is not None else None


def training_schedule_list(*, project: MLProject) -> list[dict]:
    """The retraining schedules of the project's models, with the configuration each one runs."""
    from workers.selectors import schedule_list

    model_ids = [str(pk) for pk in project.models.values_list("pk", flat=True)]
    schedules = list(schedule_list(kind="training_retrain").filter(object_type="registeredmodel",
                                                                   object_id__in=model_ids))
    configs = TrainingConfig.objects.select_related("registered_model", "dataset", "created_by").in_bulk(
        [s.params.get("config_id") for s in schedules])
    return [{"config": configs[s.params["config_id"]], "schedule": s, "enabled": s.enabled,
             "last_run_at": s.last_fired_at, "description": s.description}
            for s in schedules if s.params.get("config_id") in configs]


# Numbers that describe a run rather than its quality: listed after the quality metrics.
CONTEXT_METRICS = {"best_iteration", "baseline_mae", "positive_rate"}
# Which way is better, for the metrics the trainers report; others are shown without a verdict.
LOWER_IS_BETTER = {"mae", "rmse", "log_loss"}
HIGHER_IS_BETTER = {"r2", "auc", "accuracy"}


def _verdict(value: float, other: float, lower_is_better: bool) -> dict:
    difference = value - other
    if difference == 0:
        verdict = "equal"
    else:
        verdict = "better" if (difference < 0) == lower_is_better else "worse"
    return {"value": other, "difference": abs(difference), "verdict": verdict,
            "relative": abs(difference) / abs(other) if other else None}


def champion_comparison(*, version: ModelVersion) -> dict | None:
    """The version's key metric against its model's champion and against the naive baseline
    (always predicting the training mean; for AUC, a random ranking). None without a key metric."""
    from registry.metrics import PRIMARY_METRIC

    metric = key_metric(version)
    if metric is None:
        return None
    name, value = metric
    task = (version.params or {}).get("task", "")
    lower = not PRIMARY_METRIC.get(task, (name, False))[1]
    champion = aliases_current(model=version.registered_model).get("champion")
    out: dict = {"metric": name, "value": value, "lower_is_better": lower, "champion": None, "baseline": None,
                 "is_champion": champion is not None and champion.pk == version.pk, "champion_version": champion}
    if champion is not None and champion.pk != version.pk:
        theirs = key_metric(champion)
        if theirs is not None:
            out["champion"] = {"version": champion, **_verdict(value, theirs[1], lower)}
    baselines = {"regression": ((version.metrics or {}).get("baseline_mae"), "always predicting the training mean"),
                 "binary": (0.5, "a random ranking")}
    baseline, label = baselines.get(task, (None, ""))
    if baseline is not None and name in ("mae", "auc"):
        out["baseline"] = {"label": label, **_verdict(value, baseline, lower)}
    return out


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "—"
    return str(value)


def model_version_comparison(*, a: ModelVersion, b: ModelVersion) -> dict:
    """Both versions' parameters and metrics side by side, each row saying whether they differ
    and, for a metric with a direction, which side is better."""
    keys = [k for k in dict.fromkeys([*(a.params or {}), *(b.params or {})])]
    params = []
    for key in keys:
        left, right = (a.params or {}).get(key), (b.params or {}).get(key)
        params.append({"name": key, "a": _shown(left), "b": _shown(right), "changed": left != right})
    first = [m for m in (key_metric(a), key_metric(b)) if m]
    rest = sorted({*(a.metrics or {}), *(b.metrics or {})}, key=lambda name: (name in CONTEXT_METRICS, name))
    names = list(dict.fromkeys([*(m[0] for m in first), *rest]))
    metrics = []
    for name in names:
        left, right = (a.metrics or {}).get(name), (b.metrics or {}).get(name)
        better = None
        if left is not None and right is not None and left != right:
            if name in LOWER_IS_BETTER:
                better = "a" if left < right else "b"
            elif name in HIGHER_IS_BETTER:
                better = "a" if left > right else "b"
        metrics.append({
            "name": name, "a": left, "b": right, "changed": left != right, "better": better,
            "delta": right - left if left is not None and right is not None else None,
        })
    return {"params": params, "metrics": metrics,
            "changed_params": sum(r["changed"] for r in params), "changed_metrics": sum(r["changed"] for r in metrics)}


@dataclass
class RunDetails:
    """What the version page shows from MLflow. ``error`` says why the rest is empty."""

    run_id: str = ""
    experiment_id: str = ""
    status: str = ""
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    run_url: str = ""
    error: str = ""


HISTORY_PREFIXES = ("train_", "valid_")


def model_version_run(*, version: ModelVersion) -> RunDetails:
    """The version's MLflow run: its per-iteration metrics and feature importance.

    MLflow being away must not take the version page down, so any failure to read it comes
    back as ``error`` rather than an exception.
    """
    from registry import mlflow_client

    if not version.mlflow_run_id:
        return RunDetails(error="This version has no MLflow run recorded.")
    try:
        run = mlflow_client.run_get(version.mlflow_run_id)
        details = RunDetails(run_id=run.info.run_id, experiment_id=run.info.experiment_id, status=run.info.status,
                             run_url=mlflow_client.run_url(run.info.run_id, run.info.experiment_id))
        for key in sorted(run.data.metrics):
            if key.startswith(HISTORY_PREFIXES):
                details.history[key] = mlflow_client.run_metric_history(run_id=run.info.run_id, key=key)
        try:
            details.importance = {str(k): float(v) for k, v in mlflow_client.run_artifact_dict(
                run_id=run.info.run_id, artifact_file="feature_importance.json").items()}
        except Exception:  # an older run without the artifact: its importance metrics say the same
            details.importance = {k.removeprefix("importance."): v for k, v in run.data.metrics.items()
                                  if k.startswith("importance.")}
        return details
    except Exception as exc:
        logger.warning("could not read MLflow run %s of %s", version.mlflow_run_id, version, exc_info=True)
        first_line = redact((str(exc).strip().splitlines() or [exc.__class__.__name__])[0])[:200]
        return RunDetails(run_id=version.mlflow_run_id, error=f"MLflow could not be read: {first_line}")


def open_duties_of(user) -> list:
    """The active ML projects ``user`` owns (``portal.duties``): someone must take them over."""
    from django.urls import reverse

    from portal.duties import Duty
    from registry.models import ProjectState

    return [Duty("project_owner", "Project owner", project.title or project.name,
                 reverse("registry:project_detail", args=[project.pk]))
            for project in MLProject.objects.filter(owner=user, state=ProjectState.ACTIVE).order_by("title", "id")]
