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


LIVE_ENDPOINT = "delivery-eta-live"


def _feature_frames(now: dt.datetime):
    """Zone conditions every 15 minutes for the last two days, a day of courier statistics, and
    the orders of those two days with how long each took (the entity set a training set is built on)."""
    import pandas as pd

    from registry.demo_data import ZONES

    rng = np.random.default_rng(11)
    zones = []
    for step in range(192):
        at = now - dt.timedelta(minutes=15 * (191 - step))
        rush = at.hour in (12, 13, 19, 20)
        for zone in ZONES:
            zones.append({"zone": zone, "observed_at": at.isoformat(timespec="seconds"),
                          "orders_last_hour": int(rng.poisson(40 if rush else 18)),
                          "couriers_free": int(rng.integers(2, 25)),
                          "avg_courier_load": round(float(rng.gamma(2.0, 1.2)), 2),
                          "raining": bool(rng.random() < 0.22)})
    couriers = []
    for courier in range(1, 241):
        for shift in range(6):
            at = now - dt.timedelta(hours=8 * (5 - shift), minutes=int(rng.integers(0, 60)))
            couriers.append({"courier_id": courier, "updated_at": at.isoformat(timespec="seconds"),
                             "deliveries_7d": int(rng.poisson(90)), "on_time_rate": round(float(rng.beta(18, 2)), 3),
                             "vehicle": str(rng.choice(["bike", "e-bike", "scooter", "car"])),
                             "rating": round(float(rng.normal(4.6, 0.2)), 2)})
    orders = []
    start = now - dt.timedelta(minutes=15 * 191)
    for _ in range(1500):
        step = int(rng.integers(4, 191))
        at = start + dt.timedelta(minutes=15 * step + int(rng.integers(0, 15)))
        zone = zones[step * len(ZONES) + int(rng.integers(0, len(ZONES)))]
        courier = couriers[int(rng.integers(0, 240)) * 6]
        minutes = (14 + 0.3 * zone["orders_last_hour"] - 0.35 * zone["couriers_free"] + 5 * zone["raining"]
                   + 25 * (1 - courier["on_time_rate"]) + rng.normal(0, 2))
        orders.append({"order_id": len(orders) + 1, "zone": zone["zone"], "courier_id": courier["courier_id"],
                       "ordered_at": at.isoformat(timespec="seconds"), "minutes": round(max(minutes, 5.0), 1)})
    # A few rows as a real feed sends them: a rating typed in words, a load that is not a number.
    couriers[7]["rating"] = "five stars"
    zones[11]["avg_courier_load"] = "unknown"
    return pd.DataFrame(zones), pd.DataFrame(couriers), pd.DataFrame(orders)


def _upload(name: str, frame):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"{name}.csv", frame.to_csv(index=False).encode(), content_type="text/csv")


def _seed_feature_story(project: MLProject) -> str:
    """Two views of the delivery project, one on each tier, materialized; a training set built
    from them onto two days of orders; a version trained on it and deployed on its own endpoint,
    which predicts from a zone and a courier id alone."""
    from serving.feature_store.training_sets import training_set_start
    from serving.models import FeatureView
    from workers.runtime import job_execute

    if FeatureView.objects.exists():
        return f"{FeatureView.objects.count()} feature view(s) already there"
    erin, frank = User.objects.get(username="erin"), User.objects.get(username="frank")
    zones, couriers, orders = _feature_frames(timezone.now())
    views = _seed_feature_views(project, frank, zones, couriers)
    entities = registry_services.dataset_register(name="dispatch orders", by=erin, project=project,
                                                  uploaded_file=_upload("dispatch_orders", orders))
    job = training_set_start(by=erin, entities=entities.pk, views=[v.pk for v in views], timestamp_column="ordered_at")
    job_execute(job.pk)
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise RuntimeError(f"demo training set failed: {job.error}")
    training_set = registry_selectors.dataset_list().get(pk=job.result["dataset"])
    job = registry_services.training_start(
        project=project, dataset=training_set, target="minutes", task="regression", framework="lightgbm", by=erin,
        features=["orders_last_hour", "couriers_free", "avg_courier_load", "deliveries_7d", "on_time_rate", "rating",
                  "vehicle"], seed=42, params={"num_boost_round": 80})
    job_execute(job.pk)
    version = ModelVersion.objects.filter(training_job_id=job.pk).first()
    if version is None:
        raise RuntimeError("demo training on the feature views registered no version")
    _run_deploy(services.deployment_deploy(name=LIVE_ENDPOINT, model_version=version, by=frank,
                                           reason="Dispatch asks with a zone and a courier; the features come "
                                                  "from the feature store."))
    return (f"feature views {', '.join(v.name for v in views)}; {training_set.name} built from them; "
            f"{version} trained on it serves {LIVE_ENDPOINT}")


def _seed_feature_views(project: MLProject, frank, zones, couriers) -> list:
    """Two views of the delivery project, one on each tier, materialized."""
    from serving.feature_store import services as feature_services
    from workers.runtime import job_execute

    made = []
    for frame, name, key, time_column, tier, ttl, features, description in (
        (zones, "zone_conditions", "zone", "observed_at", "redis", 6 * 3600,
         [("orders_last_hour", "int"), ("couriers_free", "int"), ("avg_courier_load", "float"), ("raining", "bool")],
         "Live conditions per delivery zone, every 15 minutes from the dispatch feed."),
        (couriers, "courier_stats", "courier_id", "updated_at", "sql", 0,
         [("deliveries_7d", "int"), ("on_time_rate", "float"), ("vehicle", "string"), ("rating", "float")],
         "Courier history, refreshed three times a day: read at dispatch, not latency critical."),
    ):
        source = registry_services.dataset_register(name=name.replace("_", " "), by=frank, project=project,
                                                    uploaded_file=_upload(name, frame))
        view = feature_services.feature_view_create(
            by=frank, project=project, name=name, entity_key=key, source=source, event_time_column=time_column,
            features=[{"name": n, "type": t} for n, t in features], online_tier=tier, ttl_seconds=ttl,
            schedule="0 * * * *" if tier == "redis" else "", description=description)
        job = feature_services.feature_view_materialize(view=view, by=frank)
        job_execute(job.pk)
        made.append(view)
    return made


def seed() -> str:
    project = MLProject.objects.filter(proposal__title="Delivery time prediction").first()
    if project is None:
        return "no delivery project to deploy"
    if Endpoint.objects.exists():
        return f"{Endpoint.objects.count()} endpoint(s) already there"
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
        return f"{ENDPOINT} serves {champion}; {_seed_feature_story(project)}"
    with story_at(story_after(0.36)):
        _run_deploy(services.deployment_shadow_add(name=ENDPOINT, model_version=challenger, by=frank,
                                                   reason="Score the challenger on live traffic before any switch."))
    endpoint = Endpoint.objects.select_related("live_revision").get(name=ENDPOINT)
    logged = _traffic(endpoint, champion, challenger)
    features = _seed_feature_story(project)
    return f"{ENDPOINT} serves {champion} with {challenger} as a shadow; {logged} logged requests; {features}"
