"""A real `python -m serving.runtime` process serving endpoints with feature views: predicting
from entity keys alone, a tier move reaching the replica without a new revision, the answer
while the feature Redis is down, and a deployment made through the portal with views named."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import wait_for
from serving.feature_store import redis as redis_tier
from serving.feature_store.spec import ViewSpec, coerce, entity_text
from serving.runtime import control
from serving.runtime.loader import version_load
from serving.tests.models import manifest_write, raw_rows, records, trained_version
from tests.test_serving_process import Server

pytestmark = pytest.mark.integration

FEATURES = (("distance_km", "float"), ("items", "int"), ("hour", "int"), ("weekday", "int"),
            ("courier_load", "float"), ("raining", "int"), ("zone", "string"))
NAMES = [name for name, _ in FEATURES]
ROWS = records(raw_rows(5))
STORED = {42: ROWS[1], 43: ROWS[2]}


def stores_view():
    """A feature view row (the SQL tier's rows refer to it)."""
    from registry.tests.factories import approved_project, demo_dataset
    from serving.models import FeatureView

    org, project = approved_project()
    return FeatureView.objects.create(project=project, name=f"stores-{uuid.uuid4().hex[:6]}", entity_key="store_id",
                                      source=demo_dataset(rows=50, by=org.lead), event_time_column="at",
                                      features=[{"name": n, "type": t} for n, t in FEATURES])


def store(tier, spec: ViewSpec, entities: dict) -> None:
    now = time.time()
    def packed(values):
        return spec.codec.pack([coerce(values.get(name), kind) for name, kind in spec.features], now)

    tier.write(spec, [(entity_text(key), packed(values), now) for key, values in entities.items()])


@pytest.fixture(scope="module")
def version():
    return trained_version("lightgbm", "regression", seed=3)[0]


@pytest.fixture
def private_redis():
    """A Redis of the test's own, so it can be stopped."""
    from portal import embedded_redis

    folder = Path(tempfile.mkdtemp(prefix="fs-redis-", dir="/tmp"))
    socket_path = folder / "r.sock"
    proc = embedded_redis.start(socket_path)
    yield proc, f"unix://{socket_path}?db=0"
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def replica_tiers(serving_redis, port: int) -> dict:
    for replica in control.replicas_list(serving_redis):
        if replica.get("port") == port:
            return replica.get("feature_tiers") or {}
    return {}


def test_predicting_from_entity_keys_end_to_end(version, tmp_path, private_redis, transactional_db):
    import redis
    from django.conf import settings

    from serving.feature_store.tiers import tier

    proc, url = private_redis
    spec = stores_view().spec()
    store(redis_tier.RedisTier(redis_tier.connect(url)), spec, STORED)
    manifest = tmp_path / "manifest.json"
    manifest_write(manifest, {"eta": {"revision": 1, "primary": version, "feature_views": [spec.as_dict()]},
                              "plain": {"revision": 1, "primary": version}})
    server = Server(tmp_path, manifest, {"FEATURE_STORE_REDIS_URL": url})
    try:
        status, full = server.request("POST", "/v1/models/plain:predict", {"instances": [STORED[42], STORED[43]]})
        assert status == 200 and "features" not in full
        status, body = server.request("POST", "/v1/models/eta:predict", {"instances": [{"store_id": 42}]})
        assert status == 200, body
        assert body["predictions"] == pytest.approx(full["predictions"][:1])
        assert body["features"] == [{"missing": [], "defaulted": []}] and body["feature_store"] == {"available": True}
        status, body = server.request("POST", "/v1/models/eta:predict",
                                      {"instances": [{"store_id": 43, "hour": 2}, {"store_id": 7}]})
        assert status == 200 and body["features"][1] == {"missing": NAMES, "defaulted": NAMES}
        expected = server.request("POST", "/v1/models/plain:predict",
                                  {"instances": [{**STORED[43], "hour": 2}, dict.fromkeys(NAMES)]})[1]
        assert body["predictions"] == pytest.approx(expected["predictions"])
        status, body = server.request("POST", "/v2/models/eta/infer", {"inputs": [
            {"name": "store_id", "shape": [2], "datatype": "INT64", "data": [42, 43]}]})
        outputs = {o["name"]: o for o in body["outputs"]}
        assert status == 200 and outputs["predictions"]["data"] == pytest.approx(full["predictions"])
        assert body["parameters"]["feature_store"] == {"available": True}

        # A tier move: the view's values copied to the SQL tier, the manifest names its new tier
        # under the same revision, and the replica reports reading it from there.
        serving_redis = redis.Redis.from_url(settings.SERVING_REDIS_URL)
        wait_for(lambda: replica_tiers(serving_redis, server.port) == {str(spec.id): "redis"}, timeout=20,
                 message="the replica to report the view's tier")
        moved = ViewSpec.of({**spec.as_dict(), "tier": "sql"})
        store(tier("sql"), moved, {42: {**STORED[42], "hour": 23}})
        manifest_write(manifest, {"eta": {"revision": 1, "primary": version, "feature_views": [moved.as_dict()]},
                                  "plain": {"revision": 1, "primary": version}})
        control.change_publish(serving_redis)
        wait_for(lambda: replica_tiers(serving_redis, server.port) == {str(spec.id): "sql"}, timeout=20,
                 message="the replica to read the view from the SQL tier")
        status, body = server.request("POST", "/v1/models/eta:predict", {"instances": [{"store_id": 42}]})
        expected = server.request("POST", "/v1/models/plain:predict", {"instances": [{**STORED[42], "hour": 23}]})[1]
        assert status == 200 and body["predictions"] == pytest.approx(expected["predictions"])
        manifest_write(manifest, {"eta": {"revision": 1, "primary": version, "feature_views": [spec.as_dict()]},
                                  "plain": {"revision": 1, "primary": version}})
        control.change_publish(serving_redis)
        wait_for(lambda: replica_tiers(serving_redis, server.port) == {str(spec.id): "redis"}, timeout=20,
                 message="the replica to read the view from Redis again")

        # The feature Redis goes away: every answer still comes, with defaults and the flag.
        proc.terminate()
        proc.wait(timeout=10)
        for _ in range(3):
            status, body = server.request("POST", "/v1/models/eta:predict",
                                          {"instances": [{"store_id": 42}, {"store_id": 43, "hour": 2}]})
            assert status == 200, body
            assert body["feature_store"]["available"] is False and "redis" in body["feature_store"]["unavailable"]
            assert body["features"][0] == {"missing": NAMES, "defaulted": NAMES}
            assert "hour" not in body["features"][1]["defaulted"]
        expected = server.request("POST", "/v1/models/plain:predict",
                                  {"instances": [dict.fromkeys(NAMES), {**dict.fromkeys(NAMES), "hour": 2}]})[1]
        assert body["predictions"] == pytest.approx(expected["predictions"])
        status, body = server.request("POST", "/v2/models/eta/infer", {"inputs": [
            {"name": "store_id", "shape": [1], "datatype": "INT64", "data": [42]}]})
        assert status == 200 and body["parameters"]["feature_store"]["available"] is False
        assert "Traceback" not in server.log()
    finally:
        server.stop()


def test_a_deployment_with_views_named_predicts_from_entity_keys(tmp_path, transactional_db):
    """Deployed through the portal's service with a view named; the replica reads the manifest
    from the database."""
    import redis
    from django.conf import settings

    from registry.models import ModelVersion
    from registry.tests.factories import approved_project, demo_dataset
    from serving import services
    from serving.feature_store.tiers import tier
    from serving.models import FeatureView
    from serving.tests.factories import publish

    org, project = approved_project()
    model = project.models.get()
    trained, _ = trained_version("lightgbm", "regression", seed=4, name=model.name)
    dataset = demo_dataset(rows=50, by=org.lead)
    version = ModelVersion.objects.create(registered_model=model, version=trained["version"],
                                          mlflow_run_id=trained["run_id"], dataset=dataset,
                                          params={"task": "regression", "framework": "lightgbm"})
    view = FeatureView.objects.create(project=project, name="store-stats", entity_key="store_id", source=dataset,
                                      event_time_column="at", features=[{"name": n, "type": t} for n, t in FEATURES])
    store(tier("redis"), view.spec(), STORED)
    revision = publish(services.deployment_deploy(name="eta-features", model_version=version, reason="Serve from keys",
                                                  by=org.lead, feature_views=[view.pk]))
    server = Server(tmp_path, tmp_path / "unused.json",
                    {"SERVING_MANIFEST_SOURCE": "serving.manifest.manifest_from_database",
                     "SERVING_RECONCILE_SECONDS": "2"})
    try:
        statuses = control.await_revision(redis.Redis.from_url(settings.SERVING_REDIS_URL), "eta-features",
                                          revision.number, timeout=60)
        assert any(s["port"] == server.port and s["feature_tiers"] == {str(view.pk): "redis"} for s in statuses)
        status, body = server.request("POST", "/v1/models/eta-features:predict",
                                      {"instances": [{"store_id": 42}, {"store_id": 43, "hour": 1}]})
        assert status == 200, body
        assert body["features"] == [{"missing": [], "defaulted": []}] * 2
        assert body["feature_store"] == {"available": True}
        loaded = version_load(trained, cache_dir=tmp_path / "cache")
        expected = loaded.predict([STORED[42], {**STORED[43], "hour": 1}]).reshape(-1).tolist()
        assert body["predictions"] == pytest.approx(expected)
    finally:
        server.stop()
