"""Real `python -m serving.runtime` processes on real models: the protocols, bad input, canary
and shadows, a hot swap under load on two replicas, and a Redis that goes away."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from conftest import ROOT, _die_with_parent, wait_for
from serving.runtime import control
from serving.tests.models import manifest_write, raw_rows, records, trained_version

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, manifest: Path, env: dict | None = None):
        self.port = free_port()
        self.log_path = tmp / f"serving-{self.port}.log"
        full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test", "PYTHONUNBUFFERED": "1",
                    "SERVING_PORT": str(self.port), "SERVING_MANIFEST_SOURCE": "serving.manifest.manifest_from_file",
                    "SERVING_MANIFEST_FILE": str(manifest), "SERVING_RECONCILE_SECONDS": "60", **(env or {})}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "serving.runtime"], cwd=ROOT, env=full_env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            wait_for(self._ready, timeout=90, message=f"serving on {self.port} to be ready")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"serving exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body=None, headers=None, connection=None):
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        if connection is None:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def metric(server: Server, name: str) -> float:
    text = server.request("GET", "/metrics")[1]
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


@pytest.fixture(scope="module")
def versions():
    """Versions 1 and 2 of one registered model (different seeds)."""
    first, _ = trained_version("lightgbm", "regression", seed=1)
    second, _ = trained_version("lightgbm", "regression", seed=2, name=first["model"])
    assert second["version"] == first["version"] + 1
    return first, second


@pytest.fixture(scope="module")
def serving_redis():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.SERVING_REDIS_URL)


@pytest.fixture(scope="module")
def server(versions, tmp_path_factory, redis_server):
    first, second = versions
    tmp = tmp_path_factory.mktemp("serving")
    manifest = tmp / "manifest.json"
    manifest_write(manifest, {
        "eta": {"revision": 1, "primary": first, "canary": None, "shadows": []},
        "eta-canary": {"revision": 1, "primary": first, "canary": {**second, "share": 30}, "shadows": [second]},
        "broken": {"revision": 1, "primary": {**first, "model_uri": "models:/no-such-model/1", "model": "no-such"}},
    })
    running = Server(tmp, manifest)
    yield running
    running.stop()


ROWS = records(raw_rows(20))
FEATURES = ["distance_km", "items", "hour", "weekday", "courier_load", "raining", "zone"]


def test_v1_and_v2_predictions_and_bad_input(server, versions):
    status, body = server.request("POST", "/v1/models/eta:predict", {"instances": ROWS[:3]})
    assert status == 200 and body["model_version"] == versions[0]["version"] and len(body["prediction_ids"]) == 3
    v1 = body["predictions"]
    named = [{"name": f, "shape": [3], "datatype": "BYTES" if f == "zone" else "FP64", "data": [r[f] for r in ROWS[:3]]}
             for f in FEATURES]
    status, body = server.request("POST", "/v2/models/eta/infer", {"inputs": named})
    assert status == 200 and body["model_name"] == "eta" and body["model_version"] == str(versions[0]["version"])
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predictions"]["data"] == pytest.approx(v1) and outputs["prediction_ids"]["shape"] == [3]
    matrix = {"name": "x", "shape": [3, 7], "datatype": "BYTES", "data": [[r[f] for f in FEATURES] for r in ROWS[:3]]}
    status, body = server.request("POST", "/v2/models/eta/infer", {"inputs": [matrix]})
    assert status == 200 and {o["name"]: o for o in body["outputs"]}["predictions"]["data"] == pytest.approx(v1)
    assert server.request("GET", "/v2/health/live")[0] == 200 and server.request("GET", "/v2/models/eta/ready")[0] == 200

    assert server.request("POST", "/v1/models/nope:predict", {"instances": ROWS[:1]})[0] == 404
    status, body = server.request("POST", "/v1/models/broken:predict", {"instances": ROWS[:1]})
    assert status == 404 and "broken" in body["error"]  # never loaded: no revision to fall back on
    assert server.request("POST", "/v1/models/eta:predict", b"{not json")[0] == 400
    status, body = server.request("POST", "/v1/models/eta:predict",
                                  {"instances": [ROWS[0], {**ROWS[1], "items": [1], "colour": "red"}]})
    assert status == 400 and {(e["instance"], e["field"]) for e in body["errors"]} == {(1, "items"), (1, "colour")}
    status, body = server.request("POST", "/v2/models/eta/infer", {"inputs": named[1:]})
    assert status == 400 and body["errors"] == [{"instance": -1, "field": "distance_km", "message": "missing feature"}]
    assert server.request("POST", "/v1/models/eta:predict", {"instances": ROWS[:1] * 1001})[0] == 413
    assert server.request("POST", "/v1/models/eta:predict", b"x" * (10 * 1024 * 1024 + 1))[0] == 413
    assert metric(server, "serving_predictions_total") >= 9 and metric(server, "serving_errors_total") >= 6


def test_canary_is_deterministic_and_shadows_are_logged(server, versions, serving_redis):
    first, second = versions
    instances = records(raw_rows(300, seed=5))
    status, body = server.request("POST", "/v1/models/eta-canary:predict", {"instances": instances})
    assert status == 200
    answered = body["versions"]
    assert set(answered) == {first["version"], second["version"]}
    share = answered.count(second["version"]) / len(answered)
    assert 0.2 < share < 0.4
    # The same instance gets the same version, alone or in another batch.
    for i in (0, 1, 2, 3, 4, 5):
        status, again = server.request("POST", "/v1/models/eta-canary:predict", {"instances": [instances[i]]})
        assert again.get("versions", [first["version"]])[0] == answered[i]
        assert again["predictions"][0] == pytest.approx(body["predictions"][i])

    ids = set(body["prediction_ids"])

    def logged():
        from serving.jobs import records_of

        entries = serving_redis.xrange("serving:predictions", count=100_000)
        found = [r for entry_id, fields in entries for r in records_of(entry_id, fields)]
        return [{"prediction_id": r.prediction_id, "role": r.role, "endpoint": r.endpoint,
                 "version": str(next(v["version"] for v in versions if v["model_version_id"] == r.model_version_id)),
                 "inputs": json.dumps(r.inputs)} for r in found if r.prediction_id in ids]

    entries = wait_for(lambda: (lambda found: found if sum(f["role"] == "shadow" for f in found) == 300 else None)(logged()),
                       timeout=20, message="shadow outputs in the prediction log")
    roles = {r: sum(f["role"] == r for f in entries) for r in ("primary", "canary", "shadow")}
    assert roles["primary"] + roles["canary"] == 300 and roles["canary"] == answered.count(second["version"])
    shadow = next(f for f in entries if f["role"] == "shadow")
    assert shadow["version"] == str(second["version"]) and shadow["endpoint"] == "eta-canary"
    assert json.loads(shadow["inputs"]).keys() == set(FEATURES)


def test_hot_swap_under_load_on_two_replicas(versions, tmp_path, redis_server):
    import redis
    from django.conf import settings

    from portal.settings import _redis_db_url

    # Their own logical database: the module's other replica serves another manifest.
    url = _redis_db_url(settings.REDIS_URL, 5)
    serving_redis = redis.Redis.from_url(url)
    first, second = versions
    manifest = tmp_path / "manifest.json"
    manifest_write(manifest, {"swap": {"revision": 1, "primary": first}})
    replicas = [Server(tmp_path, manifest, {"SERVING_REDIS_URL": url}) for _ in range(2)]
    try:
        control.await_revision(serving_redis, "swap", 1, timeout=20)
        stop = threading.Event()
        results: list[tuple[int, int]] = []

        def hammer(server: Server):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            while not stop.is_set():
                status, body = server.request("POST", "/v1/models/swap:predict", {"instances": ROWS[:2]}, connection=conn)
                results.append((status, body.get("model_version") if isinstance(body, dict) else None))

        threads = [threading.Thread(target=hammer, args=(s,)) for s in replicas for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        manifest_write(manifest, {"swap": {"revision": 2, "primary": second}})
        control.change_publish(serving_redis)
        statuses = control.await_revision(serving_redis, "swap", 2, timeout=60)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(30)
        assert len(statuses) >= 2 and {r["port"] for r in statuses} >= {s.port for s in replicas}
        assert results and all(status == 200 for status, _ in results), [r for r in results if r[0] != 200][:3]
        assert {v for _, v in results} == {first["version"], second["version"]}
        for s in replicas:
            assert s.request("POST", "/v1/models/swap:predict", {"instances": ROWS[:1]})[1]["model_version"] == second["version"]
        # A revision that cannot load is reported, and the previous one keeps serving.
        manifest_write(manifest, {"swap": {"revision": 3, "primary": {**second, "model_uri": "models:/missing/9",
                                                                       "model": "missing"}}})
        control.change_publish(serving_redis)
        with pytest.raises(control.RolloutFailed, match="could not load 'swap' revision 3"):
            control.await_revision(serving_redis, "swap", 3, timeout=30)
        assert replicas[0].request("POST", "/v1/models/swap:predict", {"instances": ROWS[:1]})[0] == 200
    finally:
        for s in replicas:
            s.stop()


def test_predictions_answer_while_redis_is_down(versions, tmp_path):
    import redis

    from portal import embedded_redis

    folder = Path(tempfile.mkdtemp(prefix="srv-redis-", dir="/tmp"))
    socket_path = folder / "r.sock"
    proc = embedded_redis.start(socket_path)
    manifest = tmp_path / "manifest.json"
    manifest_write(manifest, {"eta": {"revision": 1, "primary": versions[0]}})
    server = None
    try:
        url = f"unix://{socket_path}?db=0"
        server = Server(tmp_path, manifest, {"SERVING_REDIS_URL": url})
        assert server.request("POST", "/v1/models/eta:predict", {"instances": ROWS[:2]})[0] == 200
        private = redis.Redis.from_url(url)
        # One request, one stream entry holding its two predictions.
        wait_for(lambda: private.xlen("serving:predictions") == 1, timeout=10, message="the logged request")
        proc.terminate()
        proc.wait(timeout=10)
        lost_before = metric(server, "serving_prediction_log_lost_total")
        for _ in range(5):
            status, body = server.request("POST", "/v1/models/eta:predict", {"instances": ROWS[:4]})
            assert status == 200 and len(body["predictions"]) == 4
        wait_for(lambda: metric(server, "serving_prediction_log_lost_total") >= lost_before + 20, timeout=20,
                 message="lost predictions counted")
    finally:
        if server is not None:
            server.stop()
        if proc.poll() is None:
            proc.kill()


JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                       lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                       max_leaves=12)
FEATURE_VALUES = st.fixed_dictionaries({f: JSONISH for f in FEATURES})


@st.composite
def bodies(draw):
    kind = draw(st.sampled_from(["v1", "v2", "json", "bytes"]))
    if kind == "v1":
        return json.dumps({"instances": draw(st.lists(FEATURE_VALUES | JSONISH, max_size=3))}, allow_nan=True).encode()
    if kind == "v2":
        inputs = draw(st.lists(st.fixed_dictionaries({
            "name": st.sampled_from(FEATURES + ["x"]), "shape": st.lists(st.integers(-1, 4), max_size=3),
            "datatype": st.sampled_from(["FP64", "BYTES", "INT32", "BOOL", "nope"]), "data": JSONISH}), max_size=4))
        return json.dumps({"inputs": inputs}, allow_nan=True).encode()
    if kind == "json":
        return json.dumps(draw(JSONISH), allow_nan=True).encode()
    return draw(st.binary(max_size=200))


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/v1/models/eta:predict", "/v2/models/eta/infer", "/v1/models/eta", "/v2/models/eta",
                             "/v2/models/eta-canary/infer", "/v1/models/%00:predict", "/v2/models//infer"]),
       method=st.sampled_from(["POST", "POST", "GET", "PUT"]),
       content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]),
       body=bodies())
def test_fuzzed_requests_never_crash_the_server(server, path, method, content_type, body):
    status, reply = server.request(method, path, body, {"Content-Type": content_type})
    assert status < 500, (status, reply, body[:200])
    assert isinstance(reply, dict) and (status == 200 or "error" in reply)
