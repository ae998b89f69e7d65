"""A project's MLOps maturity, derived from evidence the portal holds (never self-declared).

Two common scales: Google's (0 manual process, 1 ML pipeline automation, 2 CI/CD pipeline
automation) and Microsoft's (0 no MLOps, 1 DevOps but no MLOps, 2 automated training, 3 automated
model deployment, 4 full MLOps automated operations). Each level lists the evidence it rests on;
the next level lists what is still missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from observability.models import Label, Monitor, MonitorRun
from registry.models import ModelVersion
from serving.models import EndpointRevision, EndpointState, RevisionState
from workers.models import Schedule

LABELS_RECENT_DAYS = 30

GOOGLE = {0: "Manual process", 1: "ML pipeline automation", 2: "CI/CD pipeline automation"}
MICROSOFT = {0: "No MLOps", 1: "DevOps but no MLOps", 2: "Automated training", 3: "Automated model deployment",
             4: "Full MLOps automated operations"}


def evidence_of(project) -> dict[str, dict[str, Any]]:
    """Each piece of evidence: whether it holds, and what shows it, in words."""
    versions = ModelVersion.objects.filter(registered_model__project=project)
    model_names = list(project.models.values_list("name", flat=True))
    schedules = Schedule.objects.filter(kind="training_retrain", enabled=True,
                                        name__in=[f"retrain:{n}" for n in model_names])
    scheduled_versions = versions.filter(training_job__isnull=False, training_job__started_by__isnull=True).count()
    endpoints = list(project.endpoints.all())
    serving = [e for e in endpoints if e.state == EndpointState.SERVING]
    revisions = EndpointRevision.objects.filter(endpoint__project=project, state=RevisionState.LIVE)
    verified = revisions.filter(primary__isnull=False).exclude(checks={}).count()
    progressive = revisions.filter(Q(canary__isnull=False) | Q(shadows__isnull=False)).distinct().count()
    monitors = Monitor.objects.filter(endpoint__project=project, enabled=True)
    ran = MonitorRun.objects.filter(monitor__endpoint__project=project)
    last_run = ran.order_by("-window_end").first()
    since = timezone.now() - dt.timedelta(days=LABELS_RECENT_DAYS)
    labels = Label.objects.filter(endpoint__in=[e.name for e in endpoints], received_at__gte=since).count()
    owners = [u for u in [project.owner, *project.team.all()] if u is not None and u.email]

    def item(met: bool, detail: str, missing: str) -> dict[str, Any]:
        return {"met": bool(met), "detail": detail if met else missing}

    n_versions = versions.count()
    return {
        "tracked_training": item(n_versions > 0, f"{n_versions} version(s) trained by portal jobs and tracked in MLflow",
                                 "No model version has been trained in the portal yet."),
        "scheduled_training": item(schedules.exists() or scheduled_versions > 0,
                                   f"retraining on a schedule ({', '.join(s.cron for s in schedules) or 'ran'}); "
                                   f"{scheduled_versions} version(s) trained by the schedule",
                                   "Training is started by hand: set a retraining schedule on the project page."),
        "deployed": item(bool(serving), f"serving on {', '.join(e.name for e in serving)}",
                         "Nothing is deployed."),
        "verified_deploys": item(verified > 0, f"{verified} live revision(s) passed the deploy job's automatic "
                                 "checks (signature, reference rows equal to MLflow's pyfunc) before serving",
                                 "No deployment has gone through the automatic deploy checks."),
        "progressive_delivery": item(progressive > 0, f"shadow or canary used in {progressive} revision(s)",
                                     "No version was tried as a shadow or canary before taking all traffic."),
        "monitoring": item(monitors.exists() and last_run is not None,
                           f"{monitors.count()} monitor(s); last run {last_run.window_end:%Y-%m-%d %H:%M} UTC"
                           if last_run else "", "No monitor has run on this project's endpoints."),
        "alerts_wired": item(monitors.exists() and bool(owners),
                             f"alerts email {len(owners)} owner(s) and go on the ML Review agenda",
                             "No enabled monitor with someone to alert."),
        "labels_flowing": item(labels > 0, f"{labels:,} labels received in the last {LABELS_RECENT_DAYS} days",
                               f"No ground truth in the last {LABELS_RECENT_DAYS} days: send labels to "
                               "POST /api/v1/labels/ so quality is measured."),
    }


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


def maturity_of(project) -> dict[str, Any]:
    evidence = evidence_of(project)
    return {"project": project.pk, "google": _level(evidence, GOOGLE_NEEDS, GOOGLE),
            "microsoft": _level(evidence, MICROSOFT_NEEDS, MICROSOFT), "evidence": evidence}


def maturity_counts(projects) -> dict[str, dict[int, int]]:
    """How many projects sit at each level of each scale."""
    google = {level: 0 for level in GOOGLE}
    microsoft = {level: 0 for level in MICROSOFT}
    for project in projects:
        m = maturity_of(project)
        google[m["google"]["level"]] += 1
        microsoft[m["microsoft"]["level"]] += 1
    return {"google": google, "microsoft": microsoft}
