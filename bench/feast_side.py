"""Feast's side of ``bench/feature_store.py``: run by the Python of Feast's own virtual
environment (``bench/.venv-feast``), never by the portal's.

    bench/.venv-feast/bin/python bench/feast_side.py FOLDER REDIS_HOST:PORT DB

FOLDER holds what ``feature_store.py`` wrote: ``ids.npy`` (int64), ``values.npy`` (float64,
entities x features), ``event_times.npy`` (float64 seconds), ``features.json``. This script:

1. writes the data as a parquet file and a Feast repository beside it (``feature_store.yaml``:
   local provider, file offline store, Redis online store on the given database);
2. registers the entity and the feature view with ``FeatureStore.apply`` and loads the online
   store with ``FeatureStore.materialize`` (timed);
3. reads every entity back (1,000 a call) and counts the values that differ from the data;
4. then answers the parent on standard input, one JSON object a line:
   ``{"cmd": "measure", "rep": K}`` times the one-entity and 100-entity reads listed in
   ``one_K.npy`` and ``batches_K.npy`` and answers with the timings; ``{"cmd": "quit"}`` ends.

Every answer is one line on standard output starting with ``@@bench ``; anything else Feast
prints is ignored by the parent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

VIEW = "bench_view"
MARK = "@@bench "


def answer(payload: dict) -> None:
    sys.stdout.write(MARK + json.dumps(payload) + "\n")
    sys.stdout.flush()


def repository(folder: Path, host_port: str, db: int) -> Path:
    repo = folder / "feast_repo"
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "online_store:\n"
        "  type: redis\n"
        f"  connection_string: \"{host_port},db={db}\"\n"
        "offline_store:\n"
        "  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    return repo


def main() -> int:
    folder, host_port, db = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    names = json.loads((folder / "features.json").read_text())
    ids = np.load(folder / "ids.npy")
    values = np.load(folder / "values.npy")
    event_times = np.load(folder / "event_times.npy")
    row_of = {int(k): i for i, k in enumerate(ids)}

    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "entity_id", ids)
    frame["event_timestamp"] = pd.to_datetime(event_times, unit="s", utc=True)
    parquet = folder / "features.parquet"
    frame.to_parquet(parquet, index=False)
    del frame

    repo = repository(folder, host_port, db)
    store = FeatureStore(repo_path=str(repo))
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    source = FileSource(name="bench_source", path=str(parquet), timestamp_field="event_timestamp")
    view = FeatureView(name=VIEW, entities=[entity], ttl=timedelta(0), online=True, source=source,
                       schema=[Field(name="entity_id", dtype=Int64), *(Field(name=n, dtype=Float64) for n in names)])
    store.apply([entity, view])
    refs = [f"{VIEW}:{n}" for n in names]

    start = datetime.fromtimestamp(float(event_times.min()) - 1, tz=timezone.utc)
    end = datetime.fromtimestamp(float(event_times.max()) + 1, tz=timezone.utc)
    began = time.perf_counter()
    store.materialize(start_date=start, end_date=end, feature_views=[VIEW])
    load_s = time.perf_counter() - began

    def read(keys) -> dict:
        return store.get_online_features(features=refs, entity_rows=[{"entity_id": int(k)} for k in keys]).to_dict()

    def differing(keys, got: dict) -> int:
        wrong = 0
        rows = [row_of[int(k)] for k in keys]
        if [int(k) for k in got["entity_id"]] != [int(k) for k in keys]:
            return len(keys) * len(names)
        for j, name in enumerate(names):
            column = got[name]
            for r, value in zip(rows, column):
                if value is None or value != values[r, j]:
                    wrong += 1
        return wrong

    checked = wrong = 0
    for at in range(0, len(ids), 1000):
        keys = ids[at:at + 1000]
        wrong += differing(keys, read(keys))
        checked += len(keys)
    versions = {name: metadata.version(name) for name in ("feast", "redis", "pandas", "numpy", "pyarrow", "protobuf")}
    versions["python"] = sys.version.split()[0]
    answer({"event": "loaded", "load_s": load_s, "checked": checked, "wrong": wrong, "versions": versions})

    for line in sys.stdin:
        command = json.loads(line)
        if command.get("cmd") == "quit":
            break
        rep = command["rep"]
        one = np.load(folder / f"one_{rep}.npy")
        batches = np.load(folder / f"batches_{rep}.npy")
        warm = np.load(folder / f"warm_{rep}.npy")
        one_rows = [[{"entity_id": int(k)}] for k in one]
        batch_rows = [[{"entity_id": int(k)} for k in batch] for batch in batches]
        for k in warm:  # first calls, connection and caches: outside the clock
            read([k])
        got_one, one_ns = [], []
        clock = time.perf_counter_ns
        for rows in one_rows:
            t0 = clock()
            got = store.get_online_features(features=refs, entity_rows=rows).to_dict()
            one_ns.append(clock() - t0)
            got_one.append(got)
        got_batches, batch_ns = [], []
        for rows in batch_rows:
            t0 = clock()
            got = store.get_online_features(features=refs, entity_rows=rows).to_dict()
            batch_ns.append(clock() - t0)
            got_batches.append(got)
        wrong_read = sum(differing([k], got) for k, got in zip(one, got_one))
        wrong_read += sum(differing(batch, got) for batch, got in zip(batches, got_batches))
        answer({"event": "measured", "rep": rep, "one_ns": one_ns, "batch_ns": batch_ns, "wrong": wrong_read,
                "values_read": (len(one) + batches.size) * len(names)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
