"""The runtime in this process on real models trained and logged to the test MLflow store: it
answers what MLflow's own loading of the model answers, serves legacy versions, and refuses
bad requests naming the field and the instance."""

from __future__ import annotations

import asyncio

import numpy as np
import orjson
import pandas as pd
import pytest

from serving.runtime import verify
from serving.runtime.app import Runtime, app_build
from serving.runtime.config import config_from_settings
from serving.runtime.loader import version_load
from serving.tests.models import legacy_version, raw_rows, records, trained_version


@pytest.fixture(scope="module")
def lgb():
    return trained_version("lightgbm", "regression", fast_path=True)


@pytest.fixture(scope="module")
def mlp():
    return trained_version("torch", "multiclass")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("serving-cache")


def call(app, method: str, path: str, body: bytes = b"", headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"content-length", str(len(body)).encode()), *headers]}
    asyncio.run(app(scope, receive, send))
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], (orjson.loads(payload) if payload[:1] in (b"{", b"[") else payload)


def runtime_for(endpoints: dict, cache) -> Runtime:
    runtime = Runtime(config_from_settings(cache_dir=cache, log_predictions=False), source=lambda: {"endpoints": endpoints})
    runtime.reconciler.reconcile_once()
    return runtime


@pytest.mark.parametrize("which", ["lgb", "mlp"])
def test_the_runtime_answers_what_mlflow_answers(which, request, cache):
    import mlflow.pyfunc

    version, result = request.getfixturevalue(which)
    frame = raw_rows(50)
    loaded = version_load(version, cache_dir=cache)
    ours = loaded.predict(records(frame))
    pyfunc = mlflow.pyfunc.load_model(version["model_uri"]).predict(frame)
    theirs = pyfunc.to_numpy() if isinstance(pyfunc, pd.DataFrame) else np.asarray(pyfunc)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours, result.predict(frame), rtol=0, atol=1e-6)
    if which == "mlp":
        assert list(pyfunc.columns) == ["fast", "normal", "slow"]
        np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert loaded.fast is not None, loaded.notes  # the compiled trees, proven equal at load
        np.testing.assert_allclose(loaded.native(loaded.encoder.encode_records(records(frame))), ours, atol=1e-9)
    # Downloaded once: a second load reads the cache.
    assert (cache / version["model"] / str(version["version"]) / "complete.json").exists()


def test_v1_and_v2_replies_and_bad_requests(lgb, mlp, cache):
    runtime = runtime_for({"eta": {"revision": 1, "primary": lgb[0]}, "speed": {"revision": 4, "primary": mlp[0]},
                           "empty": {"revision": 1, "primary": None}}, cache)
    app = app_build(runtime)
    rows = records(raw_rows(3))
    status, body = call(app, "POST", "/v1/models/eta:predict", orjson.dumps({"instances": rows}))
    assert status == 200 and body["model_version"] == lgb[0]["version"] and len(body["prediction_ids"]) == 3
    np.testing.assert_allclose(body["predictions"], lgb[1].predict(raw_rows(3)), atol=1e-6)

    status, body = call(app, "POST", "/v1/models/speed:predict", orjson.dumps({"instances": rows[:2]}))
    assert status == 200 and set(body["predictions"][0]) == {"label", "probabilities"}
    assert set(body["predictions"][0]["probabilities"]) == {"fast", "normal", "slow"}

    features = lgb[0] and runtime.reconciler.table["eta"].primary.features
    tensors = [{"name": f, "shape": [3], "datatype": "BYTES" if f == "zone" else "FP64", "data": [r[f] for r in rows]}
               for f in features]
    status, named = call(app, "POST", "/v2/models/eta/infer", orjson.dumps({"id": "r1", "inputs": tensors}))
    assert status == 200 and named["id"] == "r1" and named["model_name"] == "eta"
    outputs = {o["name"]: o for o in named["outputs"]}
    assert outputs["predictions"]["shape"] == [3] and outputs["prediction_ids"]["datatype"] == "BYTES"
    matrix = {"name": "input-0", "shape": [3, len(features)], "datatype": "BYTES",
              "data": [[r[f] for f in features] for r in rows]}
    status, flat = call(app, "POST", "/v2/models/eta/infer", orjson.dumps({"inputs": [matrix]}))
    assert status == 200
    assert {o["name"]: o for o in flat["outputs"]}["predictions"]["data"] == outputs["predictions"]["data"]
    status, body = call(app, "POST", "/v2/models/speed/infer", orjson.dumps({"inputs": [{**matrix, "shape": [3, 7]}]}))
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [3, 3] and outputs["label"]["data"][0] in ("fast", "normal", "slow")

    assert call(app, "GET", "/v2/models/eta")[1]["inputs"][0] == {"name": features[0], "datatype": "FP64", "shape": [-1]}
    assert call(app, "GET", "/v1/models/eta")[1]["ready"] is True
    assert call(app, "GET", "/v1/models/nope")[0] == 404
    assert call(app, "POST", "/v1/models/empty:predict", b'{"instances": [{}]}') == (
        503, {"error": "endpoint 'empty' has no live version"})
    assert call(app, "POST", "/v1/models/eta:predict", b"{nope")[0] == 400
    status, body = call(app, "POST", "/v1/models/eta:predict",
                        orjson.dumps({"instances": [rows[0], {**rows[1], "hour": "noon", "tip": 1}]}))
    assert status == 400 and {"instance": 1, "field": "tip", "message": "unknown feature"} in body["errors"]
    assert any(e["instance"] == 1 and e["field"] == "hour" for e in body["errors"])
    assert call(app, "POST", "/v1/models/eta:predict", orjson.dumps({"instances": rows * 400}))[0] == 413
    assert call(app, "POST", "/v1/models/eta:predict", b"{}", [(b"content-length", b"999999999")])[0] == 413


def test_a_legacy_version_still_serves_and_passes_the_deploy_check(lgb, cache):
    version, result = legacy_version()
    loaded = version_load(version, cache_dir=cache)
    assert loaded.legacy
    frame = raw_rows(40)
    np.testing.assert_allclose(loaded.predict(records(frame)), result.predict(frame), atol=1e-9)
    report = verify.version_verify(version, frame, cache_dir=cache)
    assert report["max_abs_diff"] <= 1e-9 and report["rows"] == 40

    reference = verify.reference_frame_for(lgb[0])
    assert reference is not None and "prediction" in reference.columns
    np.testing.assert_allclose(reference["prediction"], lgb[1].predict(reference), atol=1e-9)
    report = verify.version_verify(lgb[0], reference, cache_dir=cache)
    assert report["fast_path"] is True and report["latency_ms"]["1"] > 0 and report["rows"] == len(reference)
    assert verify.reference_frame_for(version) is None
    with pytest.raises(verify.VerifyFailed, match="lack the features"):
        verify.version_verify(lgb[0], reference.drop(columns="zone"), cache_dir=cache)


def test_a_compiled_fast_path_that_disagrees_refuses_the_version_and_is_never_served(lgb, cache, tmp_path):
    """The deploy proved this version's compiled trees equal to the booster; a replica whose
    cached library says otherwise (another model's, a broken build) must not serve it."""
    from serving.runtime import fast_path
    from serving.runtime.loader import LoadFailed, version_folder

    version, _ = lgb
    other, _ = trained_version("lightgbm", "regression", seed=9, params={"num_boost_round": 5})
    own_cache = tmp_path / "cache"
    version_load(other, cache_dir=own_cache)  # builds the other model's library
    version_load({**other, "fast_path": True}, cache_dir=own_cache)
    version_load({**version, "fast_path": False}, cache_dir=own_cache)
    wrong = version_folder(own_cache, other) / fast_path.LIBRARY
    wrong_target = version_folder(own_cache, version) / fast_path.LIBRARY
    wrong_target.write_bytes(wrong.read_bytes())
    with pytest.raises(LoadFailed, match="disagrees with the booster"):
        version_load(version, cache_dir=own_cache)
    # Without the deploy's proof the booster simply serves.
    assert version_load({**version, "fast_path": False}, cache_dir=own_cache).fast is None
