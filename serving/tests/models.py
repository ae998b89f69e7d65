"""Small real models for the serving tests: trained by the portal's trainers and logged to the
test MLflow store exactly as a training job logs them (or, for ``legacy_version``, as the
portal logged them before models took raw features)."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from registry import demo_data, mlflow_client, trainers, training
from registry.trainers.base import TrainSpec, encode, params_resolve

DELIVERY_NUMERIC = ["distance_km", "items", "hour", "weekday", "courier_load", "raining"]
QUICK = {"lightgbm": {"num_boost_round": 40}, "torch": {"epochs": 4, "hidden_layers": [16]}}


class Quiet:
    def progress(self, percent, message=None):
        pass

    def log(self, text):
        pass


def delivery_frame(rows: int, seed: int) -> pd.DataFrame:
    """Delivery times, with a three-way ``speed`` label for multiclass models."""
    frame = demo_data.delivery_times(rows, seed=seed)
    frame["speed"] = pd.cut(frame["minutes"], [0, 22, 32, 10_000], labels=["fast", "normal", "slow"]).astype(str)
    return frame


def spec_for(framework: str, task: str, *, seed: int = 0, params: dict | None = None) -> TrainSpec:
    trainer = trainers.get(framework)
    target = {"regression": "minutes", "multiclass": "speed"}[task]
    return TrainSpec(target=target, numeric_features=DELIVERY_NUMERIC, categorical_features=["zone"], task=task,
                     params=params_resolve(trainer.LABEL, trainer.PARAMS, trainer.DEFAULTS,
                                           {**QUICK[framework], **(params or {})}), seed=seed)


def _version(name: str, number: str, run_id: str, task: str, framework: str, fast_path: bool) -> dict:
    return {"model_version_id": abs(hash((name, number))) % 10**6, "model": name, "version": int(number),
            "model_uri": f"models:/{name}/{number}", "run_id": run_id, "task": task, "framework": framework,
            "fast_path": fast_path}


def trained_version(framework: str = "lightgbm", task: str = "regression", *, name: str | None = None,
                    seed: int = 0, rows: int = 600, fast_path: bool = False, params: dict | None = None):
    """Train, log and register one version; return (manifest VERSION dict, TrainResult)."""
    spec = spec_for(framework, task, seed=seed, params=params)
    result = trainers.get(framework).train(spec, delivery_frame(rows, seed), Quiet())
    name = name or f"serving-test-{uuid.uuid4().hex[:8]}"
    mlflow_client.registered_model_ensure(name=name)
    with mlflow_client.run_open(experiment="serving-tests", run_name=name, tags={}) as run_id:
        info = training.model_artifacts_log(run_id=run_id, spec=spec, result=result, framework=framework,
                                            versions=training.package_versions())
        number = mlflow_client.model_version_register(name=name, model_uri=info.model_uri, run_id=run_id, tags={})
    return _version(name, number, run_id, task, framework, fast_path), result


def legacy_version(*, seed: int = 0, rows: int = 600):
    """A LightGBM version as the portal logged them before: MLflow's lightgbm flavor taking the
    encoded columns, ``preprocessing.json`` only in the run."""
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    spec = spec_for("lightgbm", "regression", seed=seed)
    result = trainers.get("lightgbm").train(spec, delivery_frame(rows, seed), Quiet())
    name = f"serving-legacy-{uuid.uuid4().hex[:8]}"
    mlflow_client.registered_model_ensure(name=name)
    preprocessing = {"features": spec.features, "target": spec.target, "task": spec.task, "classes": None,
                     **result.preprocessing}
    with mlflow_client.run_open(experiment="serving-tests", run_name=name, tags={}) as run_id:
        mlflow_client.run_log_dict(run_id=run_id, data=preprocessing, artifact_file="preprocessing.json")
        example = encode(result.valid_frame[spec.features].head(5), result.preprocessing)
        info = mlflow.lightgbm.log_model(result.model, name="model", input_example=example,
                                         signature=infer_signature(example, result.predict(result.valid_frame.head(5))))
        number = mlflow_client.model_version_register(name=name, model_uri=info.model_uri, run_id=run_id, tags={})
    return _version(name, number, run_id, "regression", "lightgbm", False), result


def raw_rows(n: int, seed: int = 11) -> pd.DataFrame:
    frame = delivery_frame(n, seed)[[*DELIVERY_NUMERIC[:0], *DELIVERY_NUMERIC, "zone"]]
    frame.loc[frame.index[::7], "courier_load"] = np.nan
    frame["zone"] = frame["zone"].astype(object)
    frame.loc[frame.index[3::9], "zone"] = "moon"
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def manifest_write(path: Path, endpoints: dict) -> None:
    """Written whole and renamed, so a reading replica never sees half a file."""
    staged = Path(tempfile.mkstemp(dir=path.parent, suffix=".json")[1])
    staged.write_text(json.dumps({"endpoints": endpoints}))
    staged.replace(path)
