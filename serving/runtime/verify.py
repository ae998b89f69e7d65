"""The deploy job's check of a version before it goes live: the runtime and MLflow must give
the same predictions on the reference rows, and the version must take the features it claims."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from registry import model_code
from serving.runtime import loader


class VerifyFailed(Exception):
    """The version must not go live; the message says why."""


def reference_frame_for(version: dict[str, Any]) -> pd.DataFrame | None:
    """The run's ``reference_sample.parquet``, or None when the run has none (older runs)."""
    import mlflow.artifacts

    from registry.mlflow_client import tracking_uri

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = mlflow.artifacts.download_artifacts(run_id=version["run_id"], artifact_path="reference_sample.parquet",
                                                       dst_path=folder, tracking_uri=tracking_uri())
            return pd.read_parquet(path)
    except Exception:
        return None


def _mlflow_predict(version: dict[str, Any], loaded: loader.LoadedVersion, folder: Path, frame: pd.DataFrame):
    """What MLflow itself gives: the pyfunc on raw rows, or for a legacy version MLflow's
    native flavor on the portal's encoding of them."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(folder / "model"))
    features = loaded.features
    if not loaded.legacy:
        names = [c.name for c in model.metadata.get_input_schema().inputs] if model.metadata.get_input_schema() else []
        if names != features:
            raise VerifyFailed(f"the model's signature takes {names}, the version's features are {features}")
        out = model.predict(frame[features])
        return np.asarray(out.to_numpy() if isinstance(out, pd.DataFrame) else out, dtype=np.float64)
    encoded = loaded.encoder.encode_frame(frame[features])
    columns = model_code.encoded_columns(loaded.preprocessing)
    if version.get("framework") == "torch":
        out = model.predict(encoded.astype(np.float32))
    else:
        out = model.predict(pd.DataFrame(encoded, columns=columns))
    out = np.asarray(out.to_numpy() if isinstance(out, pd.DataFrame) else out, dtype=np.float64)
    return out.reshape(len(frame)) if loaded.task != "multiclass" else out.reshape(len(frame), -1)


def _p50_ms(fn, rows: list, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(rows)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def version_verify(version: dict[str, Any], reference: pd.DataFrame, tolerance: float = 1e-6,
                   cache_dir: Path | None = None) -> dict[str, Any]:
    from django.conf import settings

    from registry.mlflow_client import tracking_uri

    cache_dir = Path(cache_dir or settings.SERVING_CACHE_DIR)
    try:
        loaded = loader.version_load({**version, "fast_path": False}, cache_dir=cache_dir, tracking_uri=tracking_uri())
    except Exception as exc:
        raise VerifyFailed(f"the serving runtime cannot load {version.get('model')} version "
                           f"{version.get('version')}: {exc}") from exc
    missing = [f for f in loaded.features if f not in reference.columns]
    if missing:
        raise VerifyFailed(f"the reference rows lack the features {', '.join(missing)}")
    frame = reference[loaded.features].reset_index(drop=True)
    if frame.empty:
        raise VerifyFailed("no reference rows to check the version on")
    folder = loader.version_folder(cache_dir, version)
    ours = loaded.predict_frame(frame)
    theirs = _mlflow_predict(version, loaded, folder, frame)
    if ours.shape != theirs.shape:
        raise VerifyFailed(f"the runtime answers shape {ours.shape}, MLflow {theirs.shape}")
    diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    if not diff <= tolerance:
        raise VerifyFailed(f"the runtime and MLflow disagree by up to {diff:g} (tolerance {tolerance:g})")
    records = frame.astype(object).where(frame.notna(), None).values.tolist()
    fast_ok, fast_diff = False, None
    if isinstance(loaded.native, model_code.LightGBMPredictor):
        from serving.runtime import fast_path

        notes: list[str] = []
        compiled = fast_path.fast_predictor(loaded.native, folder, loaded.encoder, notes)
        if compiled is not None:
            fast_diff = float(np.max(np.abs(compiled(loaded.encoder.encode_records(records)) - ours)))
            fast_ok = fast_diff <= tolerance
    return {
        "max_abs_diff": diff,
        "fast_path": fast_ok,
        "fast_path_max_abs_diff": fast_diff,
        "latency_ms": {"1": _p50_ms(loaded.predict, records[:1], 200),
                       "100": _p50_ms(loaded.predict, (records * 100)[:100], 50)},
        "rows": len(frame),
    }
