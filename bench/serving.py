"""Benchmark: the serving tier (``python -m serving.runtime``) against ``mlflow models serve``.

    .venv/bin/python bench/serving.py            # 10 s per run, 3 repetitions
    .venv/bin/python bench/serving.py --quick    # 3 s per run, 1 repetition

Trains a LightGBM model (100 trees, 31 leaves) and a torch MLP (three hidden layers of 256) on
30 seeded synthetic numeric features with the portal's own trainers, logs and registers them
in a private MLflow store, and serves each model with one process of each server. wrk then
sends the same requests to both: one row at concurrency 1 and 16, 100 rows at 16, and for the
tier one row at 16 with the prediction log off, and one row and 100 rows at 16 asked by entity
key alone (the features read from the feature store's Redis tier, where the test rows are loaded). Medians of the repetitions go to stdout and
``bench/results-latest.md``; ``bench/README.md`` says how to read them.

Everything lives in a temporary folder (its own ``PORTAL_VAR_DIR``, MLflow store, Redis and
model cache), so a running portal is never touched; every process started here is stopped at
the end, on failure or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from benchkit import machine  # noqa: E402

N_FEATURES = 30
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
TRAIN_ROWS = 10_000
CHECK_ROWS = 100
BATCH_ROWS = 100
DISTINCT_BODIES = 64  # wrk cycles through this many different request bodies
TOLERANCE = 1e-6
SERVER_CORE, LOAD_CORE = "0", "1"

# (name, rows per request, concurrency)
SCENARIOS = [("1 row, c=1", 1, 1), ("1 row, c=16", 1, 16), ("100 rows, c=16", BATCH_ROWS, 16)]
NOLOG_SCENARIO = "1 row, c=16"
# The tier again, with instances that carry only an entity key: the 30 features come from the
# feature store's Redis tier (one MGET per request) before the model runs.
KEYS_LABEL = "tier (entity keys)"
KEYS_SCENARIOS = ("1 row, c=16", "100 rows, c=16")
ENTITY_KEY = "entity_id"


def labels_of(scenario: str) -> list[str]:
    return ["tier", *(["tier (log off)"] if scenario == NOLOG_SCENARIO else []),
            *([KEYS_LABEL] if scenario in KEYS_SCENARIOS else []), "mlflow"]

WRK_SCRIPT = r"""
local requests = {}
local i = 0
init = function(args)
  local path = os.getenv("BENCH_PATH")
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, line)
  end
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, reqs)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "errors": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect + e.read + e.write + e.timeout, e.status))
end
"""

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In each child before exec: SIGKILL it if this script dies without cleaning up."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- processes ----------------------------------------------------------------------------

class Processes:
    """Every process this script starts, each in its own process group, stopped together."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], *, log: Path, env: dict | None = None, core: str | None = None) -> subprocess.Popen:
        if core is not None and shutil.which("taskset"):
            args = ["taskset", "-c", core, *args]
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in reversed(self.started):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left in the group (uvicorn children)
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(port: int, method: str, path: str, body=None, timeout: float = 60.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode(errors="replace"))
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen, log: Path, timeout: float = 600.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if http_json(port, "GET", path, timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server on {port} was not ready after {timeout:.0f}s:\n{log.read_text(errors='replace')[-4000:]}")


def group_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return 0.0


# --- set-up -------------------------------------------------------------------------------

def wrk_ensure() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is missing: apt-get install -y wrk")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, stdout=subprocess.DEVNULL, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed; install it (apt-get install wrk) and run again.")
    return found


def environment(work: Path) -> dict[str, str]:
    """The private environment every process of the run shares (set here before Django starts)."""
    var = work / "var"
    socket_path = var / "run" / "redis.sock"
    return {
        "PORTAL_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "true",
        "REDIS_URL": "",  # the embedded Redis, on the private socket below
        "MLFLOW_TRACKING_URI": f"sqlite:///{var / 'mlflow' / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": (var / "mlflow" / "artifacts").as_uri(),
        "SERVING_REDIS_URL": f"unix://{socket_path}?db=2",
        "SERVING_CACHE_DIR": str(var / "serving-cache"),
        "SERVING_RECONCILE_SECONDS": "600",
        "SERVING_MANIFEST_SOURCE": "serving.manifest.manifest_from_file",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # `mlflow models serve` runs `uvicorn`
    }


def synthetic_frame(rows: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(rows, N_FEATURES)).round(4)
    weights = np.random.default_rng(1234).normal(0.0, 1.0, N_FEATURES)
    y = x @ weights + 2.0 * np.sin(x[:, 0] * x[:, 1]) + x[:, 2] ** 2 - np.abs(x[:, 3]) + rng.normal(0.0, 0.3, rows)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["y"] = y
    return frame


class Quiet:
    def progress(self, percent, message=None):
        pass

    def log(self, text):
        pass


@dataclass
class Trained:
    framework: str
    name: str
    version: int
    run_id: str
    notes: str
    manifest_version: dict = field(default_factory=dict)


def train_and_register(framework: str, params: dict, frame) -> Trained:
    from registry import mlflow_client, trainers, training
    from registry.trainers.base import TrainSpec, params_resolve

    trainer = trainers.get(framework)
    spec = TrainSpec(target="y", numeric_features=list(FEATURES), categorical_features=[], task="regression",
                     params=params_resolve(trainer.LABEL, trainer.PARAMS, trainer.DEFAULTS, params), seed=0)
    started = time.monotonic()
    result = trainer.train(spec, frame, Quiet())
    if framework == "lightgbm":
        booster = result.model
        leaves = [t["num_leaves"] for t in booster.dump_model()["tree_info"]]
        notes = f"{booster.num_trees()} trees, {min(leaves)}-{max(leaves)} leaves"
    else:
        notes = f"hidden layers {result.model.architecture['hidden_layers']}, {result.iterations} epochs"
    name = f"bench-{framework}"
    mlflow_client.registered_model_ensure(name=name)
    with mlflow_client.run_open(experiment="serving-benchmark", run_name=name, tags={}) as run_id:
        info = training.model_artifacts_log(run_id=run_id, spec=spec, result=result, framework=framework,
                                            versions=training.package_versions())
        number = mlflow_client.model_version_register(name=name, model_uri=info.model_uri, run_id=run_id, tags={})
    say(f"trained and registered {name} v{number} ({notes}; valid MAE {result.metrics.get('mae', float('nan')):.3f}) "
        f"in {time.monotonic() - started:.0f}s")
    trained = Trained(framework, name, int(number), run_id, notes)
    trained.manifest_version = {
        "model_version_id": 1 if framework == "lightgbm" else 2, "model": name, "version": int(number),
        "model_uri": f"models:/{name}/{number}", "run_id": run_id, "task": "regression", "framework": framework,
        # What a deploy sets when its check proves the compiled booster equal; the runtime falls
        # back to the native booster (and says so in its log) when it cannot compile.
        "fast_path": framework == "lightgbm",
    }
    return trained


# --- servers ------------------------------------------------------------------------------

@dataclass
class Server:
    label: str  # "tier", "tier (log off)", "mlflow"
    kind: str  # "tier" or "mlflow"
    port: int
    proc: subprocess.Popen
    log: Path
    path: str  # the predict path
    ready_seconds: float = 0.0

    def body(self, rows: list[list[float]]) -> dict:
        if self.kind == "tier-keys":  # rows are [entity id]
            return {"instances": [{ENTITY_KEY: int(row[0])} for row in rows]}
        if self.kind == "tier":
            return {"instances": [dict(zip(FEATURES, row)) for row in rows]}
        return {"dataframe_split": {"columns": FEATURES, "data": rows}}

    def predict(self, rows: list[list[float]]) -> list[float]:
        status, reply = http_json(self.port, "POST", self.path, self.body(rows))
        if status != 200:
            raise RuntimeError(f"{self.label} answered {status}: {str(reply)[:500]}")
        return [float(v) for v in reply["predictions"]]


def feature_view_load(rows: list[list[float]]):
    """Every test row into the feature store's Redis tier, under entity id = its index."""
    from django.conf import settings

    from serving.feature_store.redis import RedisTier, connect
    from serving.feature_store.spec import ViewSpec

    spec = ViewSpec(id=1, name="bench_rows", entity_key=ENTITY_KEY, features=tuple((f, "float") for f in FEATURES),
                    ttl_seconds=0, tier="redis")
    now = time.time()
    RedisTier(connect(settings.FEATURE_STORE_REDIS_URL, timeout=5)).write(
        spec, [(str(i), spec.codec.pack(row, now), now) for i, row in enumerate(rows)])
    return spec


def tier_start(procs: Processes, env: dict, work: Path, model: Trained, log_predictions: bool,
               view=None) -> Server:
    endpoint = model.name
    manifest = work / f"manifest-{model.framework}.json"
    if not manifest.exists():
        served = {"revision": 1, "primary": model.manifest_version, "canary": None, "shadows": []}
        endpoints = {endpoint: served}
        if view is not None:
            endpoints[f"{endpoint}-keys"] = {**served, "feature_views": [view.as_dict()]}
        manifest.write_text(json.dumps({"endpoints": endpoints}))
    port = free_port()
    label = "tier" if log_predictions else "tier (log off)"
    log = work / f"tier-{model.framework}-{'log' if log_predictions else 'nolog'}-{port}.log"
    proc = procs.start([sys.executable, "-m", "serving.runtime"], log=log, core=SERVER_CORE, env={
        **os.environ, **env, "SERVING_PORT": str(port), "SERVING_MANIFEST_FILE": str(manifest),
        "SERVING_LOG_PREDICTIONS": "true" if log_predictions else "false"})
    server = Server(label, "tier", port, proc, log, f"/v1/models/{endpoint}:predict")
    server.ready_seconds = wait_ready(port, "/readyz", proc, log)
    status, _ = http_json(port, "GET", f"/v1/models/{endpoint}")
    if status != 200:
        raise RuntimeError(f"the tier is ready but does not serve {endpoint}:\n{log.read_text(errors='replace')[-4000:]}")
    return server


def mlflow_start(procs: Processes, env: dict, work: Path, model: Trained) -> Server:
    port = free_port()
    log = work / f"mlflow-{model.framework}-{port}.log"
    proc = procs.start([str(VENV_BIN / "mlflow"), "models", "serve", "-m", f"models:/{model.name}/{model.version}",
                        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                       log=log, core=SERVER_CORE, env={**os.environ, **env})
    server = Server("mlflow", "mlflow", port, proc, log, "/invocations")
    server.ready_seconds = wait_ready(port, "/ping", proc, log)
    return server


def fast_path_note(server: Server) -> str:
    for line in server.log.read_text(errors="replace").splitlines():
        if "fast path" in line:
            return line.split(": ", 1)[-1].strip() if ": " in line else line
    return "no fast path note in the log"


# --- load ---------------------------------------------------------------------------------

@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    rows_per_request: int
    errors: int
    server_cpu: float  # share of one core
    wrk_cpu: float
    redis_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def rows_per_s(self) -> float:
        return self.rps * self.rows_per_request


def bodies_file(work: Path, server: Server, rows, per_request: int) -> Path:
    path = work / f"bodies-{server.kind}-{per_request}.txt"
    if not path.exists():
        with open(path, "w") as out:
            for i in range(DISTINCT_BODIES):
                start = (i * per_request) % (len(rows) - per_request)
                out.write(json.dumps(server.body(rows[start:start + per_request]), separators=(",", ":")) + "\n")
    return path


def wrk_run(wrk: str, work: Path, server: Server, bodies: Path, concurrency: int, seconds: float,
            rows_per_request: int, redis_pid: int | None) -> Run:
    script = work / "post.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    args = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "--latency", "-s", str(script),
            f"http://127.0.0.1:{server.port}{server.path}"]
    if shutil.which("taskset"):
        args = ["taskset", "-c", LOAD_CORE, *args]
    env = {**os.environ, "BENCH_PATH": server.path, "BENCH_BODIES": str(bodies)}
    server_before = group_cpu_seconds(server.proc.pid)
    redis_before = group_cpu_seconds(redis_pid) if redis_pid else 0.0
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = (group_cpu_seconds(server.proc.pid) - server_before) / wall
    redis_cpu = ((group_cpu_seconds(redis_pid) - redis_before) / wall) if redis_pid else 0.0
    wrk_cpu = ((children_after.ru_utime - children_before.ru_utime)
               + (children_after.ru_stime - children_before.ru_stime)) / wall
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    stats = json.loads(line[len("BENCH "):])
    return Run(requests=stats["requests"], seconds=stats["duration_us"] / 1e6, p50_ms=stats["p50_us"] / 1000,
               p99_ms=stats["p99_us"] / 1000, rows_per_request=rows_per_request,
               errors=stats["errors"] + stats["status_errors"], server_cpu=server_cpu, wrk_cpu=wrk_cpu,
               redis_cpu=redis_cpu)


# --- report -------------------------------------------------------------------------------

@dataclass
class Cell:
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs)


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def model_table(title: str, cells: dict) -> list[str]:
    lines = [f"### {title}", "",
             "| scenario | server | requests/s | rows/s | p50 ms | p99 ms | tier ÷ mlflow (req/s) | tier ÷ mlflow (p99) "
             "| server CPU | wrk CPU | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario, _, _ in SCENARIOS:
        labels = labels_of(scenario)
        base = cells.get((scenario, "mlflow"))
        for label in labels:
            cell = cells.get((scenario, label))
            if cell is None or not cell.runs:
                continue
            rps, p99 = cell.median("rps"), cell.median("p99_ms")
            ratio_rps = ratio_p99 = ""
            if label != "mlflow" and base is not None and base.runs:
                ratio_rps = f"{rps / base.median('rps'):.1f}×"
                ratio_p99 = f"{p99 / base.median('p99_ms'):.3f}"
            cpu = f"{cell.median('server_cpu') * 100:.0f} %"
            if label in ("tier", KEYS_LABEL):
                cpu += f" (+ Redis {cell.median('redis_cpu') * 100:.0f} %)"
            lines.append(f"| {scenario} | {label} | {fmt(rps)} | {fmt(cell.median('rows_per_s'))} | "
                         f"{cell.median('p50_ms'):.3f} | {cell.median('p99_ms'):.3f} | {ratio_rps} | {ratio_p99} | "
                         f"{cpu} | {cell.median('wrk_cpu') * 100:.0f} % | {sum(r.errors for r in cell.runs)} |")
    lines.append("")
    return lines


def targets(all_cells: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each of the issue's targets."""
    out = []

    def m(model, scenario, label, attribute):
        return all_cells[model][(scenario, label)].median(attribute)

    for model, wanted in (("lightgbm", 10.0), ("torch", 5.0)):
        for scenario in ("1 row, c=1", "1 row, c=16"):
            ratio = m(model, scenario, "tier", "rps") / m(model, scenario, "mlflow", "rps")
            out.append((f"{model}: single-row throughput ≥ {wanted:g}× mlflow ({scenario})", f"{ratio:.1f}×",
                        ratio >= wanted))
    for model in ("lightgbm", "torch"):
        p50 = m(model, "1 row, c=1", "tier", "p50_ms")
        out.append((f"{model}: single-row p50 at c=1 < 1 ms", f"{p50:.3f} ms", p50 < 1.0))
    for model in ("lightgbm", "torch"):
        ratio = m(model, "100 rows, c=16", "tier", "rows_per_s") / m(model, "100 rows, c=16", "mlflow", "rows_per_s")
        out.append((f"{model}: 100-row rows/s ≥ 3× mlflow", f"{ratio:.1f}×", ratio >= 3.0))
    for model in ("lightgbm", "torch"):
        for scenario in ("1 row, c=16", "100 rows, c=16"):
            ratio = m(model, scenario, "tier", "p99_ms") / m(model, scenario, "mlflow", "p99_ms")
            out.append((f"{model}: p99 at c=16 ≤ ⅓ of mlflow's ({scenario})", f"{ratio:.3f} of mlflow's",
                        ratio <= 1 / 3))
    for model in ("lightgbm", "torch"):
        # Paired: each log-on run against the log-off run just after it, then the median.
        ons = all_cells[model][(NOLOG_SCENARIO, "tier")].runs
        offs = all_cells[model][(NOLOG_SCENARIO, "tier (log off)")].runs
        costs = [1 - a.rps / b.rps for a, b in zip(ons, offs)]
        cost = statistics.median(costs)
        out.append((f"{model}: prediction logging costs < 15 % of throughput ({NOLOG_SCENARIO})",
                    f"{cost * 100:.1f} % (median of paired runs: {', '.join(f'{c * 100:.0f} %' for c in costs)})",
                    cost < 0.15))
    return out


def versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in ("mlflow", "lightgbm", "torch", "uvicorn", "uvloop", "httptools", "orjson", "tl2cgen", "treelite",
                 "numpy", "pandas"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    try:
        first = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
        found["wrk"] = first[0].split()[1] if first else "?"
    except (OSError, IndexError):
        found["wrk"] = "?"
    return found


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs, 1 repetition, fewer epochs")
    parser.add_argument("--duration", type=float, help="seconds per run (default 10, --quick 3)")
    parser.add_argument("--repeat", type=int, help="repetitions of each run (default 3, --quick 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) afterwards")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-latest.md"))
    args = parser.parse_args()
    seconds = args.duration or (3.0 if args.quick else 10.0)
    repeat = args.repeat or (1 if args.quick else 3)
    warm_seconds = 1.0 if args.quick else 2.0

    wrk = wrk_ensure()
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    env = environment(work)
    os.environ.update(env)
    procs = Processes()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    command = " ".join([".venv/bin/python", "bench/serving.py", *sys.argv[1:]])
    began = datetime.datetime.now().astimezone()
    pinned = bool(shutil.which("taskset")) and (os.cpu_count() or 1) >= 2
    say(f"work folder {work}; {os.cpu_count()} cores; "
        + (f"servers and Redis pinned to core {SERVER_CORE}, wrk to core {LOAD_CORE}" if pinned else "no pinning"))
    try:
        import django

        django.setup()
        from portal import embedded_redis

        socket_path = Path(env["PORTAL_VAR_DIR"]) / "run" / "redis.sock"
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        redis_proc = procs.start(embedded_redis.server_args(socket_path, None, False), log=work / "redis.log",
                                 core=SERVER_CORE)
        embedded_redis.wait_until_up(socket_path)

        frame = synthetic_frame(TRAIN_ROWS, seed=7)
        epochs = 3 if args.quick else 10
        models = [
            train_and_register("lightgbm", {"num_boost_round": 100, "num_leaves": 31, "early_stopping_rounds": 0}, frame),
            train_and_register("torch", {"hidden_layers": [256, 256, 256], "epochs": epochs,
                                         "early_stopping_rounds": 0}, frame),
        ]
        test_rows = synthetic_frame(2_000, seed=99)[FEATURES].to_numpy().tolist()
        key_rows = [[i] for i in range(len(test_rows))]
        view = feature_view_load(test_rows)

        servers: dict[str, dict[str, Server]] = {}
        notes: dict[str, list[str]] = {}
        for model in models:
            say(f"starting the servers for {model.name} (one process each)")
            tier = tier_start(procs, env, work, model, log_predictions=True, view=view)
            nolog = tier_start(procs, env, work, model, log_predictions=False, view=view)
            mlflow = mlflow_start(procs, env, work, model)
            keys = Server(KEYS_LABEL, "tier-keys", tier.port, tier.proc, tier.log,
                          f"/v1/models/{model.name}-keys:predict", tier.ready_seconds)
            servers[model.framework] = {"tier": tier, "tier (log off)": nolog, "mlflow": mlflow, KEYS_LABEL: keys}
            notes[model.framework] = [f"model: {model.notes}",
                                      f"ready after: tier {tier.ready_seconds:.1f} s, mlflow {mlflow.ready_seconds:.1f} s"]
            if model.framework == "lightgbm":
                notes[model.framework].append(f"tier fast path: {fast_path_note(tier)}")

            check = test_rows[:CHECK_ROWS]
            ours, theirs, off = tier.predict(check), mlflow.predict(check), nolog.predict(check)
            by_key = keys.predict(key_rows[:CHECK_ROWS])
            diff = max(abs(a - b) for a, b in zip(ours, theirs))
            diff_off = max(abs(a - b) for a, b in zip(ours, off))
            diff_keys = max(abs(a - b) for a, b in zip(ours, by_key))
            notes[model.framework].append(f"the same {CHECK_ROWS} rows asked by entity key: max |keys − features| = "
                                          f"{diff_keys:.3g}")
            if len(by_key) != CHECK_ROWS or not diff_keys <= TOLERANCE:
                raise SystemExit(f"{model.name}: predictions from entity keys differ (max {diff_keys:g}); not benchmarking")
            say(f"{model.name}: {CHECK_ROWS} rows, max |tier - mlflow| = {diff:.3g}, |tier - tier (log off)| = {diff_off:.3g}")
            notes[model.framework].append(f"same {CHECK_ROWS} rows to both: max |tier − mlflow| = {diff:.3g}")
            if len(ours) != CHECK_ROWS or len(theirs) != CHECK_ROWS or not diff <= TOLERANCE or not diff_off <= TOLERANCE:
                raise SystemExit(f"{model.name}: the servers disagree (max difference {diff:g}); not benchmarking")

        # Warm each server on each body, then run the repetitions round-robin so slow drifts of
        # the machine spread over every cell instead of landing on one.
        plan = []
        for model in models:
            for scenario, per_request, concurrency in SCENARIOS:
                # The log-off run right after the log-on one: their ratio is taken per repetition.
                for label in labels_of(scenario):
                    plan.append((model.framework, scenario, per_request, concurrency, label))
        say(f"warming up ({len(plan)} runs of {warm_seconds:g} s)")
        for framework, scenario, per_request, concurrency, label in plan:
            server = servers[framework][label]
            rows = key_rows if server.kind == "tier-keys" else test_rows
            wrk_run(wrk, work, server, bodies_file(work, server, rows, per_request), concurrency, warm_seconds,
                    per_request, None)
        cells: dict[str, dict] = {m.framework: {} for m in models}
        total = len(plan) * repeat
        say(f"measuring: {total} runs of {seconds:g} s (about {total * (seconds + 0.5) / 60:.0f} min)")
        for rep in range(repeat):
            for framework, scenario, per_request, concurrency, label in plan:
                server = servers[framework][label]
                rows = key_rows if server.kind == "tier-keys" else test_rows
                run = wrk_run(wrk, work, server, bodies_file(work, server, rows, per_request), concurrency,
                              seconds, per_request, redis_proc.pid)
                cells[framework].setdefault((scenario, label), Cell()).runs.append(run)
                say(f"  rep {rep + 1}/{repeat} {framework:8} {scenario:15} {label:15} {run.rps:9,.0f} req/s "
                    f"p50 {run.p50_ms:7.3f} ms p99 {run.p99_ms:7.3f} ms  server CPU {run.server_cpu * 100:3.0f} % "
                    f"wrk CPU {run.wrk_cpu * 100:3.0f} %" + (f"  ERRORS {run.errors}" if run.errors else ""))

        for model in models:
            tier = servers[model.framework]["tier"]
            try:
                text = http_json(tier.port, "GET", "/metrics")[1]
                lost = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                           if l.startswith("serving_prediction_log_lost_total"))
                written = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                              if l.startswith("serving_prediction_log_written_total"))
                notes[model.framework].append(f"prediction log (tier): {written:,.0f} entries written to Redis, "
                                              f"{lost:,.0f} dropped")
            except (OSError, ValueError, IndexError):
                pass

        for model in models:
            for scenario in KEYS_SCENARIOS:
                by_key, full = cells[model.framework][(scenario, KEYS_LABEL)], cells[model.framework][(scenario, "tier")]
                notes[model.framework].append(
                    f"{scenario}, features fetched from the Redis feature tier by entity key: "
                    f"{by_key.median('rps') / full.median('rps') * 100:.0f} % of the requests/s of sending the "
                    f"features, p50 {by_key.median('p50_ms'):.3f} ms against {full.median('p50_ms'):.3f} ms")

        report = render(command, began, seconds, repeat, pinned, models, cells, notes)
        print("\n" + report)
        Path(args.out).write_text(report)
        say(f"written to {args.out}")
        return 0
    except KeyboardInterrupt:
        say("interrupted; stopping everything")
        return 130
    finally:
        procs.stop_all()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def render(command, began, seconds, repeat, pinned, models, cells, notes) -> str:
    info, found = machine(), versions()
    lines = [
        "# Serving benchmark: latest run", "",
        f"- command: `{command}`",
        f"- date: {began.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, Python {info['python']}, "
        f"Linux {info['kernel']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in found.items()),
        f"- each cell: the median of {repeat} run(s) of {seconds:g} s (wrk, 1 thread, keep-alive)",
        "- servers: one process each (the tier: `python -m serving.runtime`, uvicorn, 1 process; mlflow: "
        "`mlflow models serve --env-manager local -w 1`)",
        ("- pinning: every server and the Redis of the prediction log on core 0, wrk on core 1 (taskset)" if pinned
         else "- pinning: none (taskset missing or a single core): servers and wrk share the cores"),
        "- server CPU: the server process tree's CPU time over the run (100 % = one core); wrk CPU likewise", "",
    ]
    for model in models:
        title = ("LightGBM (100 trees, 31 leaves, 30 numeric features)" if model.framework == "lightgbm"
                 else "Torch MLP (30 → 256 → 256 → 256 → 1)")
        lines += model_table(title, cells[model.framework])
        lines += [f"- {n}" for n in notes.get(model.framework, [])] + [""]
    lines += ["### Targets", "", "| target | this run | |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {'met' if ok else '**missed**'} |" for name, value, ok in targets(cells)]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
