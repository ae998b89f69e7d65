"""Demo monitoring: half a day of ``delivery-eta`` traffic scored by the real champion, the monitor
run on each hour, couriers' load drifting in the last hours (an open alert on the next ML Review),
ground truth for most deliveries, and the project's promise."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
from django.conf import settings
from django.utils import timezone

from observability import jobs, services
from portal.demo.clock import story_at
from observability.models import Label, Monitor, MonitorRun
from registry import selectors as registry_selectors
from serving.models import Endpoint, PredictionRecord

HOURS = 12
DRIFT_HOURS = 3
ROWS_PER_HOUR = 150


def _score(version, instances: list[dict]) -> list:
    from registry.mlflow_client import tracking_uri
    from serving.runtime import loader, protocol
    from serving.selectors import version_spec

    loaded = loader.version_load(version_spec(version), cache_dir=settings.SERVING_CACHE_DIR,
                                 tracking_uri=tracking_uri())
    return protocol.outputs_of(loaded, loaded.predict(instances))


def seed() -> str:
    endpoint = Endpoint.objects.select_related("live_revision__primary__dataset", "project").filter(
        name="delivery-eta").first()
    if endpoint is None or endpoint.live_revision is None:
        return "no demo endpoint to monitor"
    monitor = Monitor.objects.filter(endpoint=endpoint).first()
    if monitor is None:
        return "no monitor on the demo endpoint"
    if MonitorRun.objects.filter(monitor=monitor).exists():
        return "monitor runs already there"
    version = endpoint.live_revision.primary
    frame = registry_selectors.dataset_frame(dataset=version.dataset)
    features = [*version.params["numeric_features"], *version.params["categorical_features"]]
    target = version.params.get("target", "minutes")
    rng = np.random.default_rng(11)
    now = timezone.now().replace(second=0, microsecond=0)
    records, labels = [], []
    for hour in range(HOURS, -1, -1):
        rows = frame.sample(n=ROWS_PER_HOUR if hour else 300, random_state=100 + hour)
        inputs = rows[features].copy()
        if hour < DRIFT_HOURS + 1:  # a new courier app reports load differently: it drifts up
            inputs["courier_load"] = inputs["courier_load"] + 2.5 + (DRIFT_HOURS - hour)
        instances = inputs.astype(object).where(inputs.notna(), None).to_dict("records")
        outputs = _score(version, instances)
        start = now - dt.timedelta(hours=hour + 1)
        for i, (instance, output, truth) in enumerate(zip(instances, outputs, rows[target].tolist())):
            pid = uuid.uuid4().hex
            at = start + dt.timedelta(seconds=3600 * (i + 0.5) / len(instances))
            records.append(PredictionRecord(prediction_id=pid, endpoint=endpoint.name,
                                            revision=endpoint.live_revision.number, model_version_id=version.pk,
                                            role="primary", inputs=instance, output=output,
                                            latency_ms=float(rng.gamma(2.0, 0.18)), at=at))
            if hour > 0 and rng.random() < 0.8:  # deliveries arrive; the last hour's have not yet
                labels.append(Label(prediction_id=pid, endpoint=endpoint.name, value=float(truth),
                                    time=at + dt.timedelta(minutes=40)))
    PredictionRecord.objects.bulk_create(records, batch_size=1000)
    Label.objects.bulk_create(labels, batch_size=1000)
    project = endpoint.project
    with story_at(now - dt.timedelta(hours=HOURS + 1, minutes=30)):
        services.promise_set(project=project, by=project.owner, metric="mae", target=6.0)
    for hour in range(HOURS, -1, -1):
        end = now - dt.timedelta(hours=hour)
        start = end - dt.timedelta(hours=1)
        rows = jobs._rows(monitor, start, end)
        # Each run, and the alert it opens, at the end of its window, as the hourly monitor would.
        with story_at(end):
            services.run_record(monitor=monitor, job=None, start=start, end=end,
                                result=jobs.evaluate(monitor, rows, end=end))
    runs = MonitorRun.objects.filter(monitor=monitor).count()
    return f"{runs} monitor runs over {HOURS + 1} hours of {endpoint.name}, {len(labels)} labels"
