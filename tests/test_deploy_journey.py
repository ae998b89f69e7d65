"""Deploying through the API with a real worker and a real serving process reading the portal
database: deploy, predict (V1 and V2), shadow, canary, promote, roll back, undeploy; a corrupt
artifact fails its deploy while the old version keeps answering; the log drains into the database."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from registry import mlflow_client
from registry import services as registry_services
from registry.models import ModelVersion
from registry.tests.factories import DELIVERY_FEATURES, approved_project, demo_dataset
from serving import jobs as serving_jobs
from serving import transport
from serving.models import PredictionRecord
from tests.test_serving_process import Server
from workers.models import Job, JobState
from workers.runtime import JobRun, job_execute
from conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

INSTANCE = {"distance_km": 4.2, "items": 3, "hour": 18, "weekday": 4, "courier_load": 0.7, "raining": 0,
            "zone": "north"}


def _train(org, project, dataset, **params) -> ModelVersion:
    job = registry_services.training_start(project=project, dataset=dataset, target="minutes",
                                           features=DELIVERY_FEATURES, task="regression", framework="lightgbm",
                                           by=org.lead, seed=params.pop("seed", 0), params=params)
    # The worker picks it up; run it here too, whichever comes first does it (the other finds it taken).
    job_execute(job.pk)
    wait_for(lambda: Job.objects.get(pk=job.pk).state in (JobState.SUCCEEDED, JobState.FAILED), timeout=120,
             message="training to finish")
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    return ModelVersion.objects.get(training_job_id=job.pk)


def _finished(api, job_id: int, timeout: float = 120.0) -> dict:
    def done():
        body = api.get(f"/api/v1/jobs/{job_id}/").json()
        return body if body["state"] in ("succeeded", "failed", "cancelled") else None

    return wait_for(done, timeout=timeout, interval=0.3, message=f"job {job_id} to finish")


def _deploy(api, path: str, body: dict) -> dict:
    response = api.post(f"/api/v1/endpoints/eta/{path}/", body, format="json")
    assert response.status_code == 202, response.content
    return _finished(api, response.json()["job"]["id"])


@pytest.fixture
def project_versions(celery_worker_process):
    org, project = approved_project()
    registry_services.registered_model_ensure_in_mlflow(model=project.models.get())
    dataset = demo_dataset(rows=600, by=org.lead)
    v1 = _train(org, project, dataset, num_boost_round=30, seed=1)
    v2 = _train(org, project, dataset, num_boost_round=60, seed=2)
    return org, project, dataset, v1, v2


@pytest.fixture
def serving(tmp_path, project_versions):
    # Earlier tests' requests share the serving tier's Redis: start from an empty log.
    transport.client().delete("serving:predictions", serving_jobs.DRAINED_KEY)
    server = Server(tmp_path, tmp_path / "unused.json",
                    {"SERVING_MANIFEST_SOURCE": "serving.manifest.manifest_from_database",
                     "SERVING_RECONCILE_SECONDS": "2"})
    yield server
    server.stop()


def _corrupt_copy(version: ModelVersion) -> ModelVersion:
    """A new MLflow version whose model files are garbage: what a broken upload looks like."""
    client = mlflow_client.client()
    name = version.registered_model.name
    source = Path(client.get_model_version_download_uri(name, str(version.version)).replace("file://", ""))
    broken = source.parent / f"broken-{time.time_ns()}"
    shutil.copytree(source, broken)
    for path in broken.rglob("*"):
        if path.is_file() and path.name != "MLmodel":
            path.write_bytes(b"\x00garbage")
    registered = client.create_model_version(name, source=str(broken), run_id=version.mlflow_run_id)
    return ModelVersion.objects.create(registered_model=version.registered_model, version=int(registered.version),
                                       mlflow_run_id=version.mlflow_run_id, dataset=version.dataset,
                                       params=version.params, metrics=version.metrics)


def test_deploy_predict_shadow_canary_promote_rollback_undeploy(project_versions, serving):
    org, project, dataset, v1, v2 = project_versions
    api = APIClient()
    api.force_authenticate(org.lead)

    job = _deploy(api, "deploy", {"model_version": v1.pk, "reason": "First model beats the rules"})
    assert job["state"] == "succeeded", job["error"]
    assert job["result"]["checks"][str(v1.pk)]["max_abs_diff"] <= 1e-6
    first_live = timezone.now()
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE]})
    assert status == 200 and body["model_version"] == v1.version, body
    v1_answer = body["predictions"][0]
    inputs = [{"name": k, "shape": [1], "datatype": "BYTES" if k == "zone" else "FP64", "data": [v]}
              for k, v in INSTANCE.items()]
    status, v2_body = serving.request("POST", "/v2/models/eta/infer", {"inputs": inputs})
    assert status == 200 and v2_body["outputs"][0]["data"][0] == pytest.approx(v1_answer)

    assert _deploy(api, "shadows", {"model_version": v2.pk, "reason": "Shadow v2 for a week"})["state"] == "succeeded"
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE] * 3})
    assert status == 200 and body["model_version"] == v1.version

    job = _deploy(api, "canary", {"model_version": v2.pk, "share": 50, "reason": "Half the traffic to v2"})
    assert job["state"] == "succeeded", job["error"]
    many = [{**INSTANCE, "distance_km": 1 + i / 10} for i in range(200)]
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": many})
    assert status == 200 and set(body["versions"]) == {v1.version, v2.version}
    canary_ids = body["prediction_ids"]

    assert _deploy(api, "canary/promote", {"reason": "v2 won the canary"})["state"] == "succeeded"
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE]})
    assert body["model_version"] == v2.version

    assert _deploy(api, "rollback", {"reason": "v2 is slow at peak"})["state"] == "succeeded"
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE]})
    assert body["model_version"] == v1.version and body["predictions"][0] == pytest.approx(v1_answer)

    # What served at the first instant, and who approved it.
    history = api.get("/api/v1/endpoints/eta/history/", {"at": first_live.isoformat()}).json()
    assert history["primary"]["model_version"] == v1.pk and history["reason"] == "First model beats the rules"
    assert history["approval"]["kind"] == "council_vote"

    # A broken artifact fails its deploy; the live version keeps answering throughout.
    broken = _corrupt_copy(v2)
    job = _deploy(api, "deploy", {"model_version": broken.pk, "reason": "Try the new build"})
    assert job["state"] == "failed" and "failed its check" in job["error"], job
    status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE]})
    assert status == 200 and body["model_version"] == v1.version
    endpoint = api.get("/api/v1/endpoints/eta/").json()
    assert endpoint["live"]["primary"]["model_version"] == v1.pk
    assert api.get("/api/v1/endpoints/eta/history/").json()[0]["state"] == "failed"

    # The log reaches the database, once, however often it is drained.
    drain = Job.objects.create(kind="prediction_drain", params={})
    first = serving_jobs.prediction_drain_run(JobRun(drain))
    second = serving_jobs.prediction_drain_run(JobRun(drain))
    roles = set(PredictionRecord.objects.filter(endpoint="eta").values_list("role", flat=True))
    assert first["stored"] > 0 and {"primary", "canary", "shadow"} <= roles
    assert PredictionRecord.objects.count() == first["stored"] + second["stored"]
    served = PredictionRecord.objects.filter(prediction_id__in=canary_ids).exclude(role="shadow")
    assert served.count() == len(canary_ids) == 200

    response = api.post("/api/v1/endpoints/eta/undeploy/", {"reason": "Retired"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "undeployed"

    def gone():
        status, body = serving.request("POST", "/v1/models/eta:predict", {"instances": [INSTANCE]})
        return (status, body) if status in (404, 503) else None

    status, body = wait_for(gone, timeout=15, message="the undeployed endpoint to stop answering")
    assert "eta" in json.dumps(body)
