"""Demo deployment: the delivery-time champion live on ``delivery-eta`` with the challenger as a
shadow, and an hour of logged traffic scored by the real models."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
from django.conf import settings
from django.utils import timezone

from portal.demo.clock import story_at
from portal.models import User
from proposals.demo import story_after
from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.models import MLProject, ModelVersion
from serving import selectors, services
from serving.models import Endpoint, PredictionRecord
from workers.models import JobState

ENDPOINT = "delivery-eta"


def _run_deploy(job) -> None:
    """The deploy job, run here: checked as always, published without waiting for replicas (the
    serving process starts after the demo data is loaded)."""
    from workers.runtime import job_execute

    job.params = {**job.params, "await_replicas": False}
    job.save(update_fields=["params"])
    job_execute(job.pk)
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise RuntimeError(f"demo deploy failed: {job.error}")


def _traffic(endpoint: Endpoint, primary: ModelVersion, shadow: ModelVersion) -> int:
    from registry.mlflow_client import tracking_uri
    from serving.runtime import loader, protocol

    frame = registry_selectors.dataset_frame(dataset=primary.dataset)
    features = [*primary.params["numeric_features"], *primary.params["categorical_features"]]
    rows = frame[features].sample(n=min(720, len(frame)), random_state=3)
    instances = rows.astype(object).where(rows.notna(), None).to_dict("records")
    outputs = {}
    for version in (primary, shadow):
        loaded = loader.version_load(selectors.version_spec(version), cache_dir=settings.SERVING_CACHE_DIR,
                                     tracking_uri=tracking_uri())
        outputs[version.pk] = protocol.outputs_of(loaded, loaded.predict(instances))
    rng = np.random.default_rng(5)
    now = timezone.now()
    records = []
    revision = endpoint.live_revision.number
    for i, instance in enumerate(instances):
        at = now - dt.timedelta(seconds=3600 * (1 - i / len(instances)))
        pid = uuid.uuid4().hex
        latency = float(rng.gamma(2.0, 0.18))
        records.append(PredictionRecord(prediction_id=pid, endpoint=endpoint.name, revision=revision,
                                        model_version_id=primary.pk, role="primary", inputs=instance,
                                        output=outputs[primary.pk][i], latency_ms=latency, at=at))
        records.append(PredictionRecord(prediction_id=pid, endpoint=endpoint.name, revision=revision,
                                        model_version_id=shadow.pk, role="shadow", inputs=instance,
                                        output=outputs[shadow.pk][i], latency_ms=latency * 1.6, at=at))
    PredictionRecord.objects.bulk_create(records, ignore_conflicts=True)
    return len(instances)


def seed() -> str:
    if Endpoint.objects.exists():
        return f"{Endpoint.objects.count()} endpoint(s) already there"
    project = MLProject.objects.filter(proposal__title="Delivery time prediction").first()
    if project is None:
        return "no delivery project to deploy"
    model = project.models.get()
    aliases = registry_selectors.aliases_current(model=model)
    champion = aliases.get("champion")
    if champion is None:
        return "no champion to deploy"
    frank = User.objects.get(username="frank")
    challenger = aliases.get("challenger") or model.versions.exclude(pk=champion.pk).order_by("-version").first()
    # On the days the story says: deployed a few days after the approval, before the monitored
    # half day of traffic the observability demo logs.
    if challenger is not None and "challenger" not in aliases:
        with story_at(story_after(0.3)):
            registry_services.model_version_alias_set(version=challenger, alias="challenger", by=frank,
                                                      reason="Shadow it beside the champion before deciding.")
    with story_at(story_after(0.32)):
        _run_deploy(services.deployment_deploy(name=ENDPOINT, model_version=champion, by=frank,
                                               reason="The champion goes live for the dispatch app."))
    if challenger is None:
        return f"{ENDPOINT} serves {champion}"
    with story_at(story_after(0.36)):
        _run_deploy(services.deployment_shadow_add(name=ENDPOINT, model_version=challenger, by=frank,
                                                   reason="Score the challenger on live traffic before any switch."))
    endpoint = Endpoint.objects.select_related("live_revision").get(name=ENDPOINT)
    logged = _traffic(endpoint, champion, challenger)
    return f"{ENDPOINT} serves {champion} with {challenger} as a shadow; {logged} logged requests"
