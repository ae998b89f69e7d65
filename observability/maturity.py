"""A project's MLOps maturity, derived from evidence the portal holds (never self-declared).

Two common scales: Google's (0 manual process, 1 ML pipeline automation, 2 CI/CD pipeline
automation) and Microsoft's (0 no MLOps, 1 DevOps but no MLOps, 2 automated training, 3 automated
model deployment, 4 full MLOps automated operations). Each level lists the evidence it rests on;
the next level lists what is still missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from observability.models import Label, Monitor, MonitorRun
from registry.models import MLProject, ModelVersion, RegisteredModel
from serving.models import Endpoint, EndpointRevision, EndpointState, RevisionState
from workers.models import Schedule

LABELS_RECENT_DAYS = 30

GOOGLE = {0: "Manual process", 1: "ML pipeline automation", 2: "CI/CD pipeline automation"}
MICROSOFT = {0: "No MLOps", 1: "DevOps but no MLOps", 2: "Automated training", 3: "Automated model deployment",
             4: "Full MLOps automated operations"}


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _counts(qs, key: str) -> dict[int, int]:
    return dict(qs.values_list(key).annotate(n=Count("pk", distinct=True)).values_list(key, "n"))


def evidence_for(projects: list) -> dict[int, dict[str, dict[str, Any]]]:
    """Each project's evidence, in a fixed number of queries however many projects there are."""
    ids = [p.pk for p in projects]
    project_key = "registered_model__project"
    versions = _counts(ModelVersion.objects.filter(registered_model__project__in=ids), project_key)
    by_schedule = _counts(ModelVersion.objects.filter(registered_model__project__in=ids, training_job__isnull=False,
                                                      training_job__started_by__isnull=True), project_key)
    model_project = dict(RegisteredModel.objects.filter(project__in=ids).values_list("name", "project_id"))
    crons: dict[int, list[str]] = {}
    for name, cron in Schedule.objects.filter(kind="training_retrain", enabled=True,
                                              name__in=[f"retrain:{n}" for n in model_project]).values_list("name", "cron"):
        crons.setdefault(model_project[name.split(":", 1)[1]], []).append(cron)
    serving: dict[int, list[str]] = {}
    endpoint_project: dict[str, int] = {}
    for name, project_id, state in Endpoint.objects.filter(project__in=ids).values_list("name", "project_id", "state"):
        endpoint_project[name] = project_id
        if state == EndpointState.SERVING:
            serving.setdefault(project_id, []).append(name)
    live = EndpointRevision.objects.filter(endpoint__project__in=ids, state=RevisionState.LIVE)
    verified = _counts(live.filter(primary__isnull=False).exclude(checks={}), "endpoint__project")
    progressive = _counts(live.filter(Q(canary__isnull=False) | Q(shadows__isnull=False)), "endpoint__project")
    monitors = _counts(Monitor.objects.filter(endpoint__project__in=ids, enabled=True), "endpoint__project")
    last_run = dict(MonitorRun.objects.filter(monitor__endpoint__project__in=ids).values_list("monitor__endpoint__project")
                    .annotate(last=Max("window_end")).values_list("monitor__endpoint__project", "last"))
    since = timezone.now() - dt.timedelta(days=LABELS_RECENT_DAYS)
    labels: dict[int, int] = {}
    for endpoint, n in (Label.objects.filter(endpoint__in=list(endpoint_project), received_at__gte=since)
                        .values_list("endpoint").annotate(n=Count("pk")).values_list("endpoint", "n")):
        labels[endpoint_project[endpoint]] = labels.get(endpoint_project[endpoint], 0) + n
    emails: dict[int, set[str]] = {p.pk: ({p.owner.email} if p.owner_id and p.owner.email else set()) for p in projects}
    for project_id, email in MLProject.team.through.objects.filter(mlproject_id__in=ids).values_list(
            "mlproject_id", "user__email"):
        if email:
            emails[project_id].add(email)

    def item(met: bool, detail: str, missing: str) -> dict[str, Any]:
        return {"met": bool(met), "detail": detail if met else missing}

    out = {}
    for p in projects:
        k = p.pk
        out[k] = {
            "tracked_training": item(versions.get(k, 0) > 0,
                                     f"{_n(versions.get(k, 0), 'version')} trained by portal jobs and tracked in MLflow",
                                     "No model version has been trained in the portal yet."),
            "scheduled_training": item(bool(crons.get(k)) or by_schedule.get(k, 0) > 0,
                                       f"retraining on a schedule ({', '.join(crons.get(k, [])) or 'ran before'}); "
                                       f"{_n(by_schedule.get(k, 0), 'version')} trained by the schedule",
                                       "Training is started by hand: set a retraining schedule on the project page."),
            "deployed": item(bool(serving.get(k)), f"serving on {', '.join(serving.get(k, []))}", "Nothing is deployed."),
            "verified_deploys": item(verified.get(k, 0) > 0,
                                     f"{_n(verified.get(k, 0), 'live revision')} passed the deploy job's automatic checks "
                                     "(signature, reference rows equal to MLflow's pyfunc) before serving",
                                     "No deployment has gone through the automatic deploy checks."),
            "progressive_delivery": item(progressive.get(k, 0) > 0,
                                         f"shadow or canary used in {_n(progressive.get(k, 0), 'revision')}",
                                         "No version was tried as a shadow or canary before taking all traffic."),
            "monitoring": item(monitors.get(k, 0) > 0 and k in last_run,
                               f"{_n(monitors.get(k, 0), 'monitor')}; last run {last_run[k]:%Y-%m-%d %H:%M} UTC"
                               if k in last_run else "", "No monitor has run on this project's endpoints."),
            "alerts_wired": item(monitors.get(k, 0) > 0 and bool(emails[k]),
                                 f"alerts email {_n(len(emails[k]), 'owner')} and go on the ML Review agenda",
                                 "No enabled monitor with someone to alert."),
            "labels_flowing": item(labels.get(k, 0) > 0,
                                   f"{labels.get(k, 0):,} labels received in the last {LABELS_RECENT_DAYS} days",
                                   f"No ground truth in the last {LABELS_RECENT_DAYS} days: send labels to "
                                   "POST /api/v1/labels/ so quality is measured."),
        }
    return out


def evidence_of(project) -> dict[str, dict[str, Any]]:
    return evidence_for([project])[project.pk]


GOOGLE_NEEDS = {1: ["tracked_training", "scheduled_training", "monitoring"],
                2: ["tracked_training", "scheduled_training", "monitoring", "deployed", "verified_deploys",
                    "progressive_delivery", "alerts_wired", "labels_flowing"]}
MICROSOFT_NEEDS = {1: ["tracked_training"],
                   2: ["tracked_training", "scheduled_training"],
                   3: ["tracked_training", "scheduled_training", "deployed", "verified_deploys",
                       "progressive_delivery"],
                   4: ["tracked_training", "scheduled_training", "deployed", "verified_deploys",
                       "progressive_delivery", "monitoring", "alerts_wired", "labels_flowing"]}


def _level(evidence: dict[str, dict], needs: dict[int, list[str]], names: dict[int, str]) -> dict[str, Any]:
    level = 0
    for candidate in sorted(needs):
        if all(evidence[k]["met"] for k in needs[candidate]):
            level = candidate
        else:
            break
    top = max(names)
    result: dict[str, Any] = {"level": level, "name": names[level],
                              "evidence": [{"key": k, **evidence[k]} for k in needs.get(level, [])]}
    if level < top:
        missing = [k for k in needs[level + 1] if not evidence[k]["met"]]
        result["next"] = {"level": level + 1, "name": names[level + 1],
                          "needs": [{"key": k, **evidence[k]} for k in missing]}
    else:
        result["next"] = None
    return result


def maturity_of(project, evidence: dict | None = None) -> dict[str, Any]:
    evidence = evidence or evidence_of(project)
    return {"project": project.pk, "google": _level(evidence, GOOGLE_NEEDS, GOOGLE),
            "microsoft": _level(evidence, MICROSOFT_NEEDS, MICROSOFT), "evidence": evidence}


def maturity_all(projects) -> list[tuple[Any, dict[str, Any]]]:
    """(project, maturity) for each project, in a fixed number of queries."""
    projects = list(projects)
    evidence = evidence_for(projects)
    return [(p, maturity_of(p, evidence[p.pk])) for p in projects]


def maturity_counts(levels: list[tuple[Any, dict[str, Any]]]) -> dict[str, dict[int, int]]:
    """How many projects sit at each level of each scale."""
    counts = {"google": {level: 0 for level in GOOGLE}, "microsoft": {level: 0 for level in MICROSOFT}}
    for _, m in levels:
        counts["google"][m["google"]["level"]] += 1
        counts["microsoft"][m["microsoft"]["level"]] += 1
    return counts
