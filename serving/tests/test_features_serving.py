"""Endpoints that name feature views: instances carrying only entity keys get their features from
the store, the request's values win, the reply says what was missing or defaulted, and a tier
that is down costs defaults and a flag, never an error. Then the portal side: which views the
manifest names, and deploying with views named."""

from __future__ import annotations

import socket
import sqlite3
import time
import uuid

import numpy as np
import orjson
import pytest

from serving.feature_store import redis as redis_tier
from serving.feature_store.spec import ViewSpec, coerce, entity_text
from serving.feature_store.tiers import raw_sql_tier
from serving.runtime.app import Runtime, app_build
from serving.runtime.config import config_from_settings
from serving.runtime.features import Breaker
from serving.tests.models import raw_rows, records, trained_version
from serving.tests.test_runtime import call

FEATURES = (("distance_km", "float"), ("items", "int"), ("hour", "int"), ("weekday", "int"),
            ("courier_load", "float"), ("raining", "int"), ("zone", "string"))
NAMES = [name for name, _ in FEATURES]
ROWS = records(raw_rows(12))
STORED = {42: ROWS[1], 43: ROWS[2], 44: ROWS[7]}  # row 7 has no courier load


def view(tier: str = "redis", features=FEATURES, entity_key: str = "store_id", view_id: int | None = None) -> ViewSpec:
    return ViewSpec(id=view_id or uuid.uuid4().int % 10**9, name=f"stores-{tier}", entity_key=entity_key,
                    features=tuple(features), ttl_seconds=0, tier=tier)


def store(tier, spec: ViewSpec, entities: dict) -> None:
    now = time.time()
    def packed(values):
        return spec.codec.pack([coerce(values.get(name), kind) for name, kind in spec.features], now)

    tier.write(spec, [(entity_text(key), packed(values), now) for key, values in entities.items()])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lgb():
    return trained_version("lightgbm", "regression")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("serving-cache")


def redis_client() -> redis_tier.RedisTier:
    from django.conf import settings

    return redis_tier.RedisTier(redis_tier.connect(settings.FEATURE_STORE_REDIS_URL))


@pytest.fixture
def redis_view():
    spec = view("redis")
    store(redis_client(), spec, STORED)
    return spec


@pytest.fixture
def sql_database(tmp_path):
    """A database holding the SQL tier's table, as the portal's migration makes it."""
    path = tmp_path / "features.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE serving_onlinefeature (id INTEGER PRIMARY KEY, view_id INTEGER NOT NULL, "
                     "entity VARCHAR(200) NOT NULL, data BLOB NOT NULL, event_time REAL NOT NULL, expires_at REAL, "
                     "UNIQUE (view_id, entity))")
    return {"vendor": "sqlite", "name": str(path)}


def runtime_for(endpoints: dict, cache, **config) -> Runtime:
    runtime = Runtime(config_from_settings(cache_dir=cache, log_predictions=False, **config),
                      source=lambda: {"endpoints": endpoints})
    runtime.reconciler.reconcile_once()
    return runtime


def predict(app, name: str, instances: list):
    return call(app, "POST", f"/v1/models/{name}:predict", orjson.dumps({"instances": instances}))


def test_entity_keys_alone_predict_what_the_full_features_predict(lgb, cache, redis_view):
    runtime = runtime_for({"plain": {"revision": 1, "primary": lgb[0]},
                           "eta": {"revision": 1, "primary": lgb[0], "feature_views": [redis_view.as_dict()]}}, cache)
    app = app_build(runtime)
    status, full = predict(app, "plain", [STORED[42], STORED[43]])
    assert status == 200 and "features" not in full and "feature_store" not in full  # no views: as before
    status, body = predict(app, "eta", [{"store_id": 42}, {"store_id": "43"}])
    assert status == 200, body
    np.testing.assert_allclose(body["predictions"], full["predictions"], atol=1e-9)
    assert body["features"] == [{"missing": [], "defaulted": []}] * 2
    assert body["feature_store"] == {"available": True}

    # A value in the request wins over the store's; the entity key is not a feature and is dropped.
    status, body = predict(app, "eta", [{"store_id": 42, "hour": 3, "zone": None}])
    assert status == 200
    assert body["predictions"] == pytest.approx(predict(app, "plain", [{**STORED[42], "hour": 3}])[1]["predictions"])
    # Lists in feature order still serve as they are.
    status, body = predict(app, "eta", [[STORED[42][n] for n in NAMES]])
    assert status == 200 and body["predictions"] == pytest.approx(full["predictions"][:1])
    assert body["features"] == [None]


def test_what_the_store_lacks_is_missing_and_defaulted(lgb, cache, redis_view):
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0], "feature_views": [redis_view.as_dict()]},
                           "plain": {"revision": 1, "primary": lgb[0]}}, cache)
    app = app_build(runtime)
    status, body = predict(app, "eta", [{"store_id": 999}, {"store_id": 44}, {"store_id": 44, "courier_load": 2.5},
                                        {"distance_km": 3.0}])
    assert status == 200, body
    assert body["features"][0] == {"missing": NAMES, "defaulted": NAMES}
    assert body["features"][1] == {"missing": ["courier_load"], "defaulted": ["courier_load"]}
    assert body["features"][2] == {"missing": ["courier_load"], "defaulted": []}
    assert body["features"][3] == {"missing": NAMES, "defaulted": NAMES[1:]}
    expected = predict(app, "plain", [dict.fromkeys(NAMES), STORED[44], {**STORED[44], "courier_load": 2.5},
                                      {**dict.fromkeys(NAMES), "distance_km": 3.0}])[1]["predictions"]
    assert body["predictions"] == pytest.approx(expected)

    # A key that is neither a feature nor an entity key is refused, as without views.
    status, body = predict(app, "eta", [{"store_id": 42, "tip": 1}])
    assert status == 400 and body["errors"] == [{"instance": 0, "field": "tip", "message": "unknown feature"}]


def test_v2_takes_entity_keys_and_some_features_as_named_tensors(lgb, cache, redis_view):
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0], "feature_views": [redis_view.as_dict()]},
                           "plain": {"revision": 1, "primary": lgb[0]}}, cache)
    app = app_build(runtime)
    inputs = [{"name": "store_id", "shape": [2], "datatype": "INT64", "data": [42, 43]},
              {"name": "hour", "shape": [2, 1], "datatype": "INT64", "data": [[5], [None]]}]
    status, body = call(app, "POST", "/v2/models/eta/infer", orjson.dumps({"inputs": inputs}))
    assert status == 200, body
    expected = predict(app, "plain", [{**STORED[42], "hour": 5}, STORED[43]])[1]["predictions"]
    assert {o["name"]: o for o in body["outputs"]}["predictions"]["data"] == pytest.approx(expected)
    assert body["parameters"]["features"] == [{"missing": [], "defaulted": []}] * 2
    assert body["parameters"]["feature_store"] == {"available": True}
    status, body = call(app, "POST", "/v2/models/eta/infer",
                        orjson.dumps({"inputs": [{**inputs[0], "name": "shop"}]}))
    assert status == 400 and body["errors"][0]["field"] == "shop"
    # The [n, features] matrix still serves.
    matrix = {"name": "x", "shape": [1, 7], "datatype": "BYTES", "data": [[STORED[42][n] for n in NAMES]]}
    status, body = call(app, "POST", "/v2/models/eta/infer", orjson.dumps({"inputs": [matrix]}))
    assert status == 200 and body["parameters"]["features"] == [None]
    assert {o["name"]: o for o in body["outputs"]}["predictions"]["data"] == pytest.approx(
        predict(app, "plain", [STORED[42]])[1]["predictions"])


def test_with_redis_down_the_reply_comes_with_defaults_and_a_flag(lgb, cache, redis_view):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0], "feature_views": [redis_view.as_dict()]},
                           "plain": {"revision": 1, "primary": lgb[0]}}, cache, feature_redis_url=url)
    app = app_build(runtime)
    expected = predict(app, "plain", [dict.fromkeys(NAMES), {**dict.fromkeys(NAMES), "hour": 9}])[1]["predictions"]
    for _ in range(3):
        started = time.perf_counter()
        status, body = predict(app, "eta", [{"store_id": 42}, {"store_id": 43, "hour": 9}])
        assert status == 200, body
        assert body["feature_store"]["available"] is False
        assert "unreachable" in body["feature_store"]["unavailable"]["redis"]
        assert body["features"] == [{"missing": NAMES, "defaulted": NAMES},
                                    {"missing": NAMES, "defaulted": [n for n in NAMES if n != "hour"]}]
        assert body["predictions"] == pytest.approx(expected)
    # The breaker is open: later requests do not wait on Redis at all.
    assert time.perf_counter() - started < 0.1
    status, body = call(app, "POST", "/v2/models/eta/infer", orjson.dumps(
        {"inputs": [{"name": "store_id", "shape": [1], "datatype": "INT64", "data": [42]}]}))
    assert status == 200 and body["parameters"]["feature_store"]["available"] is False


def test_views_on_the_sql_tier_and_on_both_tiers(lgb, cache, redis_view, sql_database):
    courier = view("sql", FEATURES[4:6], entity_key="courier_id")
    store(raw_sql_tier(sql_database), courier, {7: {"courier_load": 0.9, "raining": 1}})
    orders = view("redis", [f for f in FEATURES if f[0] not in ("courier_load", "raining")])
    store(redis_client(), orders, STORED)
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0],
                                   "feature_views": [orders.as_dict(), courier.as_dict()]},
                           "plain": {"revision": 1, "primary": lgb[0]}}, cache, feature_database=sql_database)
    app = app_build(runtime)
    status, body = predict(app, "eta", [{"store_id": 42, "courier_id": 7}, {"store_id": 43, "courier_id": 8}])
    assert status == 200, body
    assert body["features"] == [{"missing": [], "defaulted": []},
                                {"missing": ["courier_load", "raining"], "defaulted": ["courier_load", "raining"]}]
    expected = predict(app, "plain", [{**STORED[42], "courier_load": 0.9, "raining": 1},
                                      {**STORED[43], "courier_load": None, "raining": None}])[1]["predictions"]
    assert body["predictions"] == pytest.approx(expected)
    assert runtime.reconciler.status()["feature_tiers"] == {str(orders.id): "redis", str(courier.id): "sql"}


def test_the_log_holds_what_the_model_saw(lgb, cache, redis_view):
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0], "feature_views": [redis_view.as_dict()]}}, cache)
    runtime.log.enabled = True  # queued, never sent: the writer thread is not started
    status, body = predict(app_build(runtime), "eta", [{"store_id": 42, "hour": 1}])
    assert status == 200
    instances = runtime.log._queue.get_nowait()[5]
    assert instances == [{**STORED[42], "hour": 1}]


def test_a_tier_move_rebuilds_the_endpoint_without_a_new_revision(lgb, cache, redis_view, sql_database):
    endpoints = {"eta": {"revision": 3, "primary": lgb[0], "feature_views": [redis_view.as_dict()]}}
    runtime = runtime_for(endpoints, cache, feature_database=sql_database)
    before = runtime.reconciler.table["eta"]
    runtime.reconciler.reconcile_once()
    assert runtime.reconciler.table["eta"] is before  # nothing changed: nothing rebuilt
    assert runtime.reconciler.status()["feature_tiers"] == {str(redis_view.id): "redis"}
    moved = ViewSpec.of({**redis_view.as_dict(), "tier": "sql"})
    store(raw_sql_tier(sql_database), moved, {42: {**STORED[42], "hour": 0}})
    endpoints["eta"] = {**endpoints["eta"], "feature_views": [moved.as_dict()]}
    runtime.reconciler.reconcile_once()
    after = runtime.reconciler.table["eta"]
    assert after is not before and after.revision == 3 and after.primary is before.primary
    assert runtime.reconciler.status()["feature_tiers"] == {str(redis_view.id): "sql"}
    status, body = predict(app_build(runtime), "eta", [{"store_id": 42}, {"store_id": 43}])
    assert status == 200 and body["features"][1]["missing"] == NAMES  # only 42 was copied


def test_the_breaker_waits_before_trying_again():
    calls = []

    class Down:
        def read(self, wanted):
            calls.append(wanted)
            raise redis_tier.Unavailable("the Redis feature tier is unreachable: refused")

    breaker = Breaker("redis", Down, pause=0.2)
    for _ in range(3):
        with pytest.raises(redis_tier.Unavailable, match="refused"):
            breaker.read([])
    assert len(calls) == 1
    time.sleep(0.25)
    with pytest.raises(redis_tier.Unavailable):
        breaker.read([])
    assert len(calls) == 2


# --- the portal: which views the manifest names, deploying with views named ------------------

def feature_view(project, dataset, name: str, *, tier: str = "redis", entity_key: str = "store_id"):
    from serving.models import FeatureView

    return FeatureView.objects.create(project=project, name=name, entity_key=entity_key, source=dataset,
                                      features=[{"name": n, "type": t} for n, t in FEATURES], event_time_column="at",
                                      online_tier=tier, ttl_seconds=3600)


@pytest.fixture
def portal(db, django_capture_on_commit_callbacks):
    from serving.tests.factories import project_with_versions

    org, project, (v1, v2) = project_with_versions()
    dataset = v1.dataset
    stores = feature_view(project, dataset, "stores")
    couriers = feature_view(project, dataset, "couriers", tier="sql", entity_key="courier_id")
    return org, project, v1, v2, stores, couriers


def _deploy(name: str, version, by, **kwargs):
    from serving import services
    from serving.tests.factories import publish

    return publish(services.deployment_deploy(name=name, model_version=version, reason="Serve it", by=by, **kwargs))


def test_the_manifest_names_the_views_the_version_was_trained_from_as_they_are_now(
        portal, django_capture_on_commit_callbacks):
    from registry.models import Dataset
    from serving import selectors

    org, project, v1, v2, stores, couriers = portal
    Dataset.objects.filter(pk=v1.dataset_id).update(lineage={
        "kind": "training_set", "views": [{"id": couriers.pk, "name": "couriers", "features": ["courier_load"],
                                           "ttl_seconds": 3600}, {"id": 99999, "name": "gone"}]})
    with django_capture_on_commit_callbacks(execute=False):
        _deploy("eta", v1, org.lead)
    spec = selectors.serving_manifest()["endpoints"]["eta"]
    assert spec["feature_views"] == [couriers.spec().as_dict()]  # the deleted view is left out
    assert spec["feature_views"][0]["tier"] == "sql"
    # A tier move changes the manifest without a new revision.
    couriers.online_tier = "redis"
    couriers.save()
    spec = selectors.serving_manifest()["endpoints"]["eta"]
    assert spec["revision"] == 1 and spec["feature_views"][0]["tier"] == "redis"


def test_a_deploy_names_views_that_later_revisions_carry(portal, django_capture_on_commit_callbacks):
    from portal.errors import DomainError
    from serving import selectors, services
    from serving.tests.factories import publish

    org, project, v1, v2, stores, couriers = portal
    with pytest.raises(DomainError, match="There is no feature view 4242") as caught:
        services.deployment_deploy(name="eta", model_version=v1, reason="go", by=org.lead, feature_views=[stores, 4242])
    assert caught.value.status == 400
    with django_capture_on_commit_callbacks(execute=False):
        _deploy("eta", v1, org.lead, feature_views=[stores.pk])
        assert selectors.serving_manifest()["endpoints"]["eta"]["feature_views"] == [stores.spec().as_dict()]
        publish(services.deployment_shadow_add(name="eta", model_version=v2, reason="shadow", by=org.lead))
        assert [v["id"] for v in selectors.serving_manifest()["endpoints"]["eta"]["feature_views"]] == [stores.pk]
        # The same version with other views is a change worth a revision.
        revision = _deploy("eta", v1, org.lead, feature_views=[couriers.pk, stores.pk])
    assert revision.number == 3
    spec = selectors.serving_manifest()["endpoints"]["eta"]
    assert [v["name"] for v in spec["feature_views"]] == ["couriers", "stores"]
    assert [s["model_version_id"] for s in spec["shadows"]] == [v2.pk]
    with django_capture_on_commit_callbacks(execute=False):
        _deploy("eta", v2, org.lead, feature_views=[])
    assert selectors.serving_manifest()["endpoints"]["eta"]["feature_views"] == []


def test_the_deploy_api_takes_feature_views(portal, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from serving.tests.factories import publish

    org, project, v1, v2, stores, couriers = portal
    api = APIClient()
    api.force_authenticate(org.lead)
    response = api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v1.pk, "reason": "first",
                                                          "feature_views": [stores.pk, 777777]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "There is no feature view 777777.", "field": "feature_views"}
    assert api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v1.pk, "reason": "first",
                                                      "feature_views": "stores"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/endpoints/eta/deploy/", {"model_version": v1.pk, "reason": "first",
                                                              "feature_views": [stores.pk]}, format="json")
        assert response.status_code == 202, response.json()
        publish(response.json())
    assert api.get("/api/v1/endpoints/eta/").json()["live"]["feature_views"] == [stores.pk]
    schema = api.get("/api/schema/", {"format": "json"}).json()
    deploy = schema["components"]["schemas"]["EndpointDeployInput"]["properties"]["feature_views"]
    assert deploy["type"] == "array" and "entity keys" in deploy["description"]
