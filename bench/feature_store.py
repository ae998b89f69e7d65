"""Benchmark: the feature store's online tiers against Feast's Redis online store and a naive
JSON-in-Redis baseline, side by side on the same data.

    .venv/bin/python bench/feature_store.py                     # 100,000 entities x 30 features; 3 repetitions
    .venv/bin/python bench/feature_store.py --entities 10000    # a quick check
    .venv/bin/python bench/feature_store.py --skip-feast --out /tmp/fs.md

Makes seeded data once (``--entities`` entities, an int ``entity_id``, 30 float features and an
event time each) and loads it into four stores:

- this store's Redis tier (``RedisTier.write`` of ``Codec.pack``ed records), Redis database 10;
- this store's SQL tier on PostgreSQL (``SqlTier.write``), in a database of its own
  (``bench_feature_store``, dropped and made again, the portal's migrations run into it, one
  ``FeatureView`` row made through the ORM for the view's id);
- Feast (``feast[redis]``, pinned) with a file (parquet) offline source and its Redis online
  store on database 12, loaded by ``FeatureStore.materialize``. Feast runs in a child process,
  ``bench/feast_side.py``, started with the Python of Feast's own virtual environment
  (``bench/.venv-feast``, made here with ``python3.11 -m venv`` and a pinned ``pip install`` when
  missing: Feast is no dependency of the portal);
- a naive baseline: one JSON string per entity (``SET entity:<id> json.dumps(dict)``), read with
  ``MGET`` and ``json.loads``; Redis database 11.

Each side is read the same way, ``--repeat`` times (3), the sides alternating in a rotating
order: a warm-up, then ``--one`` (2,000) random entities one at a time (p50, p99), then
``--batches`` (200) batches of 100 random entities (rows/s, p50 of a batch). The entity lists
are drawn per repetition and are the same for every side. This store is read both through its
full read path (``online.fetch``: rows of dicts in, values and missing flags out) and through
the raw tier (``RedisTier.read`` / ``SqlTier.read``); Feast through
``get_online_features(...).to_dict()``. Every value read, and every entity once after loading,
is compared with the data. Redis memory per entity is ``INFO memory`` ``used_memory`` after
loading a side into its empty database minus before, over the entities (the sides are loaded
one after the other), and the mean ``MEMORY USAGE`` of 500 of its keys. A cProfile of this
store's 100-entity read through ``online.fetch`` on Redis says where its time goes.

Prints a markdown report (``--out`` also writes it to a file). The Redis databases are flushed
at the start and the end, and the PostgreSQL database dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import pstats
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchkit import machine, say, venv_ensure, venv_python

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FEAST_VENV = ROOT / "bench" / ".venv-feast"
# Pinned: the newest Feast on PyPI when this was written; it installs here with pandas 2.3.3.
FEAST_REQUIREMENTS = ["feast[redis]==0.67.0"]
SEED = 20261202
N_FEATURES = 30
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
BATCH = 100
DATABASE = "bench_feature_store"
BASE_TIME = 1_793_491_200.0  # 2026-11-01 00:00 UTC
MARK = "@@bench "
SIDES = ("ours-redis", "ours-sql", "naive", "feast")


# --- data -----------------------------------------------------------------------------------------

def make_data(entities: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids int64, values float64 entities x 30, event times float64 whole seconds)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, entities + 1, dtype=np.int64) * 7 + 1000)
    values = np.empty((entities, N_FEATURES))
    for i in range(N_FEATURES):
        kind = i % 3
        if kind == 0:
            values[:, i] = rng.normal(10.0 * i, 1.0 + i % 5, size=entities)
        elif kind == 1:
            values[:, i] = rng.lognormal(0.5 + i / 30.0, 0.6, size=entities)
        else:
            values[:, i] = rng.uniform(-i, 2.0 * i + 1.0, size=entities)
    event_times = BASE_TIME + rng.integers(0, 30 * 86400, size=entities).astype(np.float64)
    return ids, values, event_times


def samples(ids: np.ndarray, rep: int, seed: int, one: int, batches: int, warm: int):
    """The entities one repetition reads: (warm-up, one at a time, batches of 100)."""
    rng = np.random.default_rng(seed + 1000 + rep)
    warm_ids = rng.choice(ids, size=warm)
    one_ids = rng.choice(ids, size=one)
    batch_ids = np.stack([rng.choice(ids, size=min(BATCH, len(ids)), replace=False) for _ in range(batches)])
    return warm_ids, one_ids, batch_ids


# --- services -------------------------------------------------------------------------------------

def redis_client(args, db: int):
    import redis

    return redis.Redis(host=args.redis_host, port=args.redis_port, db=db)


def used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def memory_usage_sample(client, match: bytes | None = None, n: int = 500) -> float:
    keys, cursor = [], 0
    while len(keys) < n:
        cursor, found = client.scan(cursor, match=match, count=1000)
        keys += found
        if cursor == 0:
            break
    keys = keys[:n]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    usages = [u for u in pipe.execute() if u]
    return sum(usages) / len(usages) if usages else 0.0


def key_shape(client, match: bytes | None) -> str:
    """What one entity looks like in Redis: the key's type, length and encoding."""
    key = next(iter(client.scan_iter(match=match, count=100)), None)
    if key is None:
        return "no key"
    kind = client.type(key).decode()
    encoding = client.object("encoding", key)
    encoding = encoding.decode() if isinstance(encoding, bytes) else encoding
    size = client.hlen(key) if kind == "hash" else client.strlen(key) if kind == "string" else None
    unit = "fields" if kind == "hash" else "bytes"
    return f"a {kind} of {size} {unit} ({encoding}) under a key of {len(key)} bytes"


def settle_memory(client) -> int:
    """used_memory once it stops moving (lazy frees and client buffers settle)."""
    last = used_memory(client)
    for _ in range(20):
        time.sleep(0.1)
        now = used_memory(client)
        if now == last:
            return now
        last = now
    return last


def postgres_setup(args, folder: Path, entities: int) -> int:
    """A fresh database with the portal's tables and one feature view row; returns its id."""
    import psycopg

    with psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    env = {**os.environ, "DATABASE_URL": database_url(args), "PORTAL_VAR_DIR": str(folder / "var"),
           "DJANGO_SETTINGS_MODULE": "portal.settings"}
    say(f"running the portal's migrations into {DATABASE}")
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "PORTAL_VAR_DIR", "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from proposals.models import Proposal
    from registry.models import Dataset, MLProject
    from serving.models import FeatureView

    user = get_user_model().objects.create(username="bench")
    proposal = Proposal.objects.create(title="Feature store benchmark", author=user)
    project = MLProject.objects.create(proposal=proposal, name="bench", title="Feature store benchmark", owner=user)
    source = Dataset.objects.create(name="bench entities", path="bench/entities.parquet", sha256="0" * 64,
                                    format="parquet", size_bytes=0, rows=entities)
    view = FeatureView.objects.create(project=project, name="bench-view", entity_key="entity_id",
                                      features=[{"name": n, "type": "float"} for n in FEATURES], source=source,
                                      event_time_column="event_time", online_tier="sql")
    from django.db import connections

    connections.close_all()
    return view.pk


def postgres_drop(args) -> None:
    import psycopg

    with psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def database_url(args) -> str:
    return f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{DATABASE}"


# --- the sides in this process --------------------------------------------------------------------

class Side:
    """One store: load it once, then read it (one entity, batches) and check what it returned."""

    name = ""
    modes: tuple[str, ...] = ()

    def load(self) -> float:
        raise NotImplementedError

    def prepare(self, mode: str, keys):
        raise NotImplementedError

    def reader(self, mode: str):
        raise NotImplementedError

    def check(self, mode: str, keys, got) -> int:
        """How many values in ``got`` (what ``reader(mode)`` returned for ``keys``) differ."""
        raise NotImplementedError


class Ours(Side):
    modes = ("fetch", "raw")

    def __init__(self, tier, spec, data):
        from serving.feature_store import online

        self.tier, self.spec, self.online = tier, spec, online
        self.ids, self.values, self.event_times = data
        self.row_of = {int(k): i for i, k in enumerate(self.ids)}

    def load(self) -> float:
        codec = self.spec.codec
        began = time.perf_counter()
        records = [(str(int(k)), codec.pack(row, t), t)
                   for k, row, t in zip(self.ids, self.values.tolist(), self.event_times.tolist())]
        written = self.tier.write(self.spec, records)
        seconds = time.perf_counter() - began
        if written != len(self.ids):
            raise SystemExit(f"{self.name}: wrote {written} of {len(self.ids)}")
        return seconds

    def prepare(self, mode: str, keys):
        """The request as the caller holds it, made outside the clock."""
        if mode == "fetch":
            return [{"entity_id": int(k)} for k in keys]
        return [(self.spec, [str(int(k)) for k in keys])]

    def reader(self, mode: str):
        spec, tier, fetch = self.spec, self.tier, self.online.fetch
        if mode == "fetch":
            specs = [spec]
            tier_of = {spec.tier: tier}.__getitem__
            return lambda request: fetch(specs, request, tier_of)
        return tier.read

    def check(self, mode: str, keys, got) -> int:
        wrong = 0
        if mode == "fetch":
            if got.unavailable:
                return len(keys) * N_FEATURES
            for k, values, missing, times in zip(keys, got.values, got.missing, got.event_times):
                r = self.row_of[int(k)]
                expected = self.values[r]
                wrong += len(missing) + sum(values.get(n) != expected[j] for j, n in enumerate(FEATURES))
                wrong += times.get(self.spec.name) != self.event_times[r]
            return wrong
        for k, found in zip(keys, got[0]):
            r = self.row_of[int(k)]
            if found is None:
                wrong += N_FEATURES
                continue
            values, event_time = found
            wrong += sum(v != e for v, e in zip(values, self.values[r])) + (event_time != self.event_times[r])
        return wrong


class Naive(Side):
    name = "naive"
    modes = ("json",)

    def __init__(self, client, data):
        self.client = client
        self.ids, self.values, self.event_times = data
        self.row_of = {int(k): i for i, k in enumerate(self.ids)}

    def load(self) -> float:
        began = time.perf_counter()
        pipe = self.client.pipeline(transaction=False)
        for n, (k, row, t) in enumerate(zip(self.ids.tolist(), self.values.tolist(), self.event_times.tolist())):
            record = dict(zip(FEATURES, row))
            record["event_time"] = t
            pipe.set(f"entity:{k}", json.dumps(record))
            if n % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        return time.perf_counter() - began

    def prepare(self, mode: str, keys):
        return [f"entity:{int(k)}" for k in keys]

    def reader(self, mode: str):
        mget, loads = self.client.mget, json.loads
        return lambda request: [None if raw is None else loads(raw) for raw in mget(request)]

    def check(self, mode: str, keys, got) -> int:
        wrong = 0
        for k, record in zip(keys, got):
            r = self.row_of[int(k)]
            if record is None:
                wrong += N_FEATURES
                continue
            wrong += sum(record.get(n) != self.values[r, j] for j, n in enumerate(FEATURES))
            wrong += record.get("event_time") != self.event_times[r]
        return wrong


def measure_here(side, mode: str, warm, one, batches) -> dict:
    read = side.reader(mode)
    for k in warm:
        read(side.prepare(mode, [k]))
    one_requests = [side.prepare(mode, [k]) for k in one]
    batch_requests = [side.prepare(mode, batch) for batch in batches]
    clock = time.perf_counter_ns
    one_ns, got_one = [], []
    for request in one_requests:
        t0 = clock()
        got = read(request)
        one_ns.append(clock() - t0)
        got_one.append(got)
    batch_ns, got_batches = [], []
    for request in batch_requests:
        t0 = clock()
        got = read(request)
        batch_ns.append(clock() - t0)
        got_batches.append(got)
    wrong = sum(side.check(mode, [k], got) for k, got in zip(one, got_one))
    wrong += sum(side.check(mode, batch, got) for batch, got in zip(batches, got_batches))
    return {"one_ns": one_ns, "batch_ns": batch_ns, "wrong": wrong, "values_read": (len(one) + batches.size) * N_FEATURES}


def check_all(side, mode: str, ids: np.ndarray) -> int:
    read, wrong = side.reader(mode), 0
    for at in range(0, len(ids), 1000):
        keys = ids[at:at + 1000]
        wrong += side.check(mode, keys, read(side.prepare(mode, keys)))
    return wrong


def profile_batches(side, batches, top: int = 12) -> tuple[list[tuple[str, int, float, float]], float]:
    """cProfile of ``online.fetch`` over the batches: (function, calls, own ms, share of the total)."""
    read = side.reader("fetch")
    requests = [side.prepare("fetch", batch) for batch in batches]
    profiler = cProfile.Profile()
    profiler.enable()
    for request in requests:
        read(request)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values())
    rows = []
    for (filename, line, function), (_, calls, own, _cum, _) in stats.stats.items():
        where = filename.replace(str(ROOT) + "/", "")
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        rows.append((f"{where}:{line} {function}" if line else function, calls, own * 1000, own / total if total else 0))
    rows.sort(key=lambda r: -r[2])
    return rows[:top], total * 1000


# --- Feast, in its own environment ----------------------------------------------------------------

class FeastChild:
    """``bench/feast_side.py`` in Feast's venv, spoken to one JSON line at a time."""

    def __init__(self, args, folder: Path):
        self.log = open(folder / "feast.log", "w")
        self.folder = folder
        self.process = subprocess.Popen(
            [str(venv_python(args.feast_venv)), str(ROOT / "bench" / "feast_side.py"), str(folder),
             f"{args.redis_host}:{args.redis_port}", str(args.db_feast)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
            env={**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1",
                 "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})

    def receive(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.log.flush()
        tail = (self.folder / "feast.log").read_text()[-4000:]
        raise SystemExit(f"the Feast side stopped (exit {self.process.wait()}):\n{tail}")

    def send(self, payload: dict) -> None:
        self.process.stdin.write(json.dumps(payload) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- report ---------------------------------------------------------------------------------------

def summary(runs: list[dict]) -> dict:
    """Medians over the repetitions of each repetition's p50, p99, rows/s and batch p50."""
    per = []
    for run in runs:
        one = np.array(run["one_ns"]) / 1e6
        batch = np.array(run["batch_ns"]) / 1e6
        per.append({"p50": float(np.percentile(one, 50)), "p99": float(np.percentile(one, 99)),
                    "rows_s": BATCH * len(batch) / (batch.sum() / 1000), "batch_p50": float(np.percentile(batch, 50)),
                    "batch_p99": float(np.percentile(batch, 99))})
    out = {key: statistics.median(p[key] for p in per) for key in per[0]}
    out["per"] = per
    out["wrong"] = sum(run["wrong"] for run in runs)
    out["values_read"] = sum(run["values_read"] for run in runs)
    return out


LABELS = {
    ("ours-redis", "fetch"): "this store, Redis tier: `online.fetch`",
    ("ours-redis", "raw"): "this store, Redis tier: raw `RedisTier.read`",
    ("ours-sql", "fetch"): "this store, SQL tier (PostgreSQL): `online.fetch`",
    ("ours-sql", "raw"): "this store, SQL tier (PostgreSQL): raw `SqlTier.read`",
    ("naive", "json"): "naive: one JSON string per entity (`MGET` + `json.loads`)",
    ("feast", "feast"): "Feast, Redis online store: `get_online_features(...).to_dict()`",
}


MEMORY_NAMES = {"ours-redis": "this store's Redis tier", "naive": "naive JSON", "feast": "Feast"}
SHORT = {("ours-redis", "fetch"): "Redis fetch", ("ours-redis", "raw"): "Redis raw", ("ours-sql", "fetch"): "SQL fetch",
         ("ours-sql", "raw"): "SQL raw", ("naive", "json"): "naive", ("feast", "feast"): "Feast"}


def render(args, command: str, began: datetime.datetime, load_before: str, versions: dict, results: dict,
           loads: dict, memory: dict, checks: dict, profile, sql_size: dict | None, notes: list[str]) -> str:
    info = machine()
    feast = results.get(("feast", "feast"))
    feast_mem = memory.get("feast")
    lines = [
        "# Feature store benchmark: this store's online tiers against Feast and a naive JSON baseline", "",
        f"- command: `{command}`",
        f"- date: {began.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: `nproc` = {info['nproc']} ({info['cpu']}), {info['memory']}, Linux {info['kernel']}, "
        f"Python {info['python']}; load average {load_before} before the run, {info['load']} after",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- data: {args.entities:,} entities (`entity_id` int), {N_FEATURES} float64 features, an event time each; "
        f"seed {args.seed}",
        f"- reads per repetition and side: {args.warm} warm-up reads, {args.one:,} one-entity reads, "
        f"{args.batches} batches of {BATCH} random entities (the same entities for every side); "
        f"{len(next(iter(results.values()))['per'])} repetition(s), the sides alternating in a rotating order; "
        "each figure is the median of the repetitions' figures", "",
        "| side | one entity p50 ms | one entity p99 ms | Feast p50 ÷ this | 100-entity batches rows/s | "
        "batch p50 ms | ÷ Feast (rows/s) | Redis memory / entity (used_memory) | MEMORY USAGE / key | "
        "÷ Feast (memory) | same values |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, label in LABELS.items():
        if key not in results:
            continue
        r = results[key]
        mem = memory.get(key[0])
        p50_ratio = f"{feast['p50'] / r['p50']:.1f}×" if feast else "n/a"
        rate_ratio = f"{r['rows_s'] / feast['rows_s']:.1f}×" if feast else "n/a"
        if mem:
            mem_cells = f"{mem['per_entity']:,.0f} B | {mem['usage']:,.0f} B"
            mem_ratio = f"{mem['per_entity'] / feast_mem['per_entity']:.2f}" if feast_mem else "n/a"
            if key[1] == "raw":
                mem_cells, mem_ratio = "(same) | (same)", ""
        else:
            mem_cells, mem_ratio = "n/a | n/a", ""
        same = "yes" if r["wrong"] == 0 and checks.get(key, 1) == 0 else f"**no** ({r['wrong'] + checks.get(key, 0):,} differ)"
        lines.append(f"| {label} | {r['p50']:.3f} | {r['p99']:.3f} | {p50_ratio} | {r['rows_s']:,.0f} | "
                     f"{r['batch_p50']:.3f} | {rate_ratio} | {mem_cells} | {mem_ratio} | {same} |")
    lines.append("")
    total_read = sum(r["values_read"] for r in results.values())
    all_same = all(r["wrong"] == 0 for r in results.values()) and all(v == 0 for v in checks.values())
    lines.append(f"- same values: **{'yes' if all_same else 'no'}**: every side read all {args.entities:,} entities "
                 f"back once after loading (1,000 a call) and every value of the timed reads "
                 f"({total_read:,} values) was compared with the data; this store's and the naive side's event "
                 "times too")
    lines.append("- load (s, entities/s): " + "; ".join(
        f"{name} {s:.2f} s ({args.entities / s:,.0f}/s)" for name, s in loads.items())
        + " (this store: packing + `write`; naive: `json.dumps` + pipelined `SET`; Feast: `materialize` from the "
          "parquet file)")
    if memory:
        lines.append("- Redis memory: " + "; ".join(
            f"{MEMORY_NAMES[name]} {m['delta']:,} B for {args.entities:,} entities ({m['per_entity']:,.1f} B each; MEMORY USAGE "
            f"mean of {m['sampled']} keys {m['usage']:,.1f} B; each entity {m['shape']})"
            for name, m in memory.items()))
    if sql_size:
        lines.append(f"- PostgreSQL (the SQL tier, not Redis): `pg_total_relation_size` of the table with its indexes "
                     f"{sql_size['table_bytes']:,} B, {sql_size['table_bytes'] / args.entities:,.0f} B per entity")
    lines.append("- per repetition (one entity p50 ms / 100-entity rows/s): " + "; ".join(
        f"{SHORT[key]} " + ", ".join(f"{p['p50']:.3f} / {p['rows_s']:,.0f}" for p in r["per"])
        for key, r in results.items()))
    for note in notes:
        lines.append(f"- {note}")

    ours = results.get(("ours-redis", "fetch"))
    if ours:
        lines += ["", "Targets:", "", "| target | measured | |", "|---|---|---|"]
        lines.append(f"| one entity p50 < 0.5 ms (Redis tier, `online.fetch`) | {ours['p50']:.3f} ms "
                     f"(raw tier read {results[('ours-redis', 'raw')]['p50']:.3f} ms) | "
                     f"**{'met' if ours['p50'] < 0.5 else 'not met'}** |")
        if feast:
            ratio = ours["rows_s"] / feast["rows_s"]
            lines.append(f"| 100-entity batches ≥ 3× Feast's rows/s | {ours['rows_s']:,.0f} against {feast['rows_s']:,.0f}: "
                         f"{ratio:.2f}× | **{'met' if ratio >= 3 else 'not met'}** |")
        if feast_mem and memory.get("ours-redis"):
            ratio = memory["ours-redis"]["per_entity"] / feast_mem["per_entity"]
            lines.append(f"| Redis memory per entity ≤ ½ Feast's | {memory['ours-redis']['per_entity']:,.0f} B against "
                         f"{feast_mem['per_entity']:,.0f} B: {ratio:.2f} | **{'met' if ratio <= 0.5 else 'not met'}** |")
    if profile:
        rows, total_ms = profile
        lines += ["", f"Where this store's time goes: cProfile of {args.batches} reads of {BATCH} entities through "
                      f"`online.fetch` on the Redis tier ({total_ms:,.0f} ms in all under the profiler, which "
                      "inflates Python calls; the top functions by own time):", "",
                  "| function | calls | own ms | share |", "|---|---:|---:|---:|"]
        for function, calls, own_ms, share in rows:
            lines.append(f"| `{function}` | {calls:,} | {own_ms:,.1f} | {share:.1%} |")
    lines.append("")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=int, default=2000, help="one-entity reads per repetition and side")
    parser.add_argument("--batches", type=int, default=200, help="100-entity batches per repetition and side")
    parser.add_argument("--warm", type=int, default=200, help="untimed reads before each side's timed ones")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--db-ours", type=int, default=10)
    parser.add_argument("--db-naive", type=int, default=11)
    parser.add_argument("--db-feast", type=int, default=12)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--feast-venv", type=Path, default=FEAST_VENV)
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and the PostgreSQL database")
    args = parser.parse_args()
    command = "python bench/feature_store.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    began = datetime.datetime.now(datetime.timezone.utc)
    load_before = machine()["load"]

    if not args.skip_feast:
        venv_ensure(args.feast_venv, FEAST_REQUIREMENTS, "import feast, redis")
    import psycopg
    import redis

    from serving.feature_store import redis as redis_tier
    from serving.feature_store.spec import ViewSpec
    from serving.feature_store.tiers import raw_sql_tier

    folder = Path(tempfile.mkdtemp(prefix="bench-feature-store-"))
    clients = {name: redis_client(args, db) for name, db in
               (("ours-redis", args.db_ours), ("naive", args.db_naive), ("feast", args.db_feast))}
    for client in clients.values():
        client.flushdb()
    feast_child = None
    notes: list[str] = []
    try:
        say(f"data: {args.entities:,} entities x {N_FEATURES} features")
        data = make_data(args.entities, args.seed)
        ids = data[0]
        np.save(folder / "ids.npy", data[0])
        np.save(folder / "values.npy", data[1])
        np.save(folder / "event_times.npy", data[2])
        (folder / "features.json").write_text(json.dumps(FEATURES))

        view_id = 1
        sides: dict[str, Side] = {}
        loads: dict[str, float] = {}
        memory: dict[str, dict] = {}
        checks: dict[tuple[str, str], int] = {}

        def redis_loaded(name: str, before: int, match: bytes | None) -> None:
            after = settle_memory(clients[name])
            memory[name] = {"delta": after - before, "per_entity": (after - before) / args.entities,
                            "usage": memory_usage_sample(clients[name], match), "sampled": 500,
                            "shape": key_shape(clients[name], match)}
            say(f"{name}: {(after - before) / args.entities:,.1f} B per entity (used_memory), "
                f"MEMORY USAGE {memory[name]['usage']:,.1f} B")

        if not args.skip_sql:
            view_id = postgres_setup(args, folder, args.entities)
        fields = tuple((n, "float") for n in FEATURES)

        # Loads, one side at a time: each Redis side's used_memory delta is its own.
        before = settle_memory(clients["ours-redis"])
        spec_redis = ViewSpec(id=view_id, name="bench-view", entity_key="entity_id", features=fields, ttl_seconds=0,
                              tier="redis")
        ours_redis = Ours(redis_tier.RedisTier(redis_tier.connect(
            f"redis://{args.redis_host}:{args.redis_port}/{args.db_ours}", timeout=5.0)), spec_redis, data)
        ours_redis.name = "ours-redis"
        loads["this store, Redis"] = ours_redis.load()
        redis_loaded("ours-redis", before, redis_tier.view_prefix(view_id) + b"*")
        sides["ours-redis"] = ours_redis

        if not args.skip_sql:
            spec_sql = ViewSpec(id=view_id, name="bench-view", entity_key="entity_id", features=fields, ttl_seconds=0,
                                tier="sql")
            sql_tier = raw_sql_tier({"vendor": "postgresql", "name": DATABASE, "user": args.pg_user,
                                     "host": args.pg_host, "port": args.pg_port})
            ours_sql = Ours(sql_tier, spec_sql, data)
            ours_sql.name = "ours-sql"
            loads["this store, SQL"] = ours_sql.load()
            with psycopg.connect(database_url(args), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE serving_onlinefeature")
            sides["ours-sql"] = ours_sql
            say(f"ours-sql loaded in {loads['this store, SQL']:.2f} s")

        before = settle_memory(clients["naive"])
        naive = Naive(redis.Redis(host=args.redis_host, port=args.redis_port, db=args.db_naive), data)
        loads["naive JSON"] = naive.load()
        redis_loaded("naive", before, b"entity:*")
        sides["naive"] = naive

        feast_versions = {}
        if not args.skip_feast:
            before = settle_memory(clients["feast"])
            say("Feast: repository, apply, materialize (its own process)")
            feast_child = FeastChild(args, folder)
            loaded = feast_child.receive()
            loads["Feast"] = loaded["load_s"]
            checks[("feast", "feast")] = loaded["wrong"]
            feast_versions = loaded["versions"]
            redis_loaded("feast", before, None)
            say(f"Feast loaded in {loaded['load_s']:.2f} s; {loaded['wrong']} values differ")
            sides["feast"] = None

        for name, side in sides.items():
            if side is None:
                continue
            for mode in side.modes:
                checks[(name, mode)] = check_all(side, mode, ids)
        say("every entity read back once: " + ", ".join(f"{k[0]} {k[1]}: {v} differ" for k, v in checks.items()))

        runs: dict[tuple[str, str], list[dict]] = {}
        order = [name for name in SIDES if name in sides]
        for rep in range(args.repeat):
            warm, one, batches = samples(ids, rep, args.seed, args.one, args.batches, args.warm)
            np.save(folder / f"warm_{rep}.npy", warm)
            np.save(folder / f"one_{rep}.npy", one)
            np.save(folder / f"batches_{rep}.npy", batches)
            shift = rep % len(order)
            for name in order[shift:] + order[:shift]:
                if name == "feast":
                    feast_child.send({"cmd": "measure", "rep": rep})
                    result = feast_child.receive()
                    runs.setdefault(("feast", "feast"), []).append(result)
                    say(f"repetition {rep + 1}: feast p50 {np.percentile(result['one_ns'], 50) / 1e6:.3f} ms")
                    continue
                side = sides[name]
                for mode in side.modes:
                    result = measure_here(side, mode, warm, one, batches)
                    runs.setdefault((name, mode), []).append(result)
                    say(f"repetition {rep + 1}: {name} {mode} p50 {np.percentile(result['one_ns'], 50) / 1e6:.3f} ms, "
                        f"{BATCH * len(batches) / (sum(result['batch_ns']) / 1e9):,.0f} rows/s")
        if feast_child:
            feast_child.close()
        results = {key: summary(value) for key, value in runs.items()}

        _, _, batches = samples(ids, 0, args.seed, 0, args.batches, 0)
        profile = profile_batches(sides["ours-redis"], batches)

        sql_size = sides["ours-sql"].tier.size(spec_sql) if "ours-sql" in sides else None
        server = clients["ours-redis"].info("server")
        versions = {"redis server": server.get("redis_version"), "redis-py (this store)": redis.__version__,
                    "psycopg": psycopg.__version__, "numpy": np.__version__}
        if not args.skip_sql:
            with psycopg.connect(database_url(args)) as conn:
                versions["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        for key, value in feast_versions.items():
            versions[f"{key} (Feast's venv)"] = value
        if args.skip_feast:
            notes.append("Feast skipped (--skip-feast)")
        report = render(args, command, began, load_before, versions, results, loads, memory, checks, profile,
                        sql_size, notes)
    finally:
        if feast_child:
            feast_child.close()
        for client in clients.values():
            try:
                client.flushdb()
            except redis.RedisError:
                pass
        if not args.keep:
            if not args.skip_sql:
                try:
                    from django.db import connections

                    connections.close_all()
                except Exception:
                    pass
                postgres_drop(args)
            shutil.rmtree(folder, ignore_errors=True)
        else:
            say(f"kept {folder} and the database {DATABASE}")
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
