"""Loading one model version for serving: download once into the cache, build everything the
request path needs (encoder tables, native model, optional compiled fast path), warm it.

Two stored formats are served: the portal's pyfunc (``registry/model_code.py`` with its
artifacts) and, for versions trained before it, MLflow's ``lightgbm`` or ``pytorch`` flavor on
encoded columns with ``preprocessing.json`` in the run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from registry import model_code
from serving.runtime import fast_path

logger = logging.getLogger(__name__)

COMPLETE = "complete.json"


class LoadFailed(Exception):
    """The version cannot be served; the message says why."""


@dataclass(eq=False)
class LoadedVersion:
    """One version, ready: ``predict(instances)`` -> native output rows. Immutable once built."""

    info: dict[str, Any]
    preprocessing: dict[str, Any]
    encoder: model_code.FastEncoder
    native: Callable[[np.ndarray], np.ndarray]
    fast: Callable[[np.ndarray], np.ndarray] | None = None
    load_seconds: float = 0.0
    legacy: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def task(self) -> str:
        return self.info.get("task") or self.preprocessing.get("task")

    @property
    def classes(self) -> list[Any] | None:
        return self.preprocessing.get("classes")

    @property
    def features(self) -> list[str]:
        return self.encoder.features

    @property
    def predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        return self.fast or self.native

    def predict(self, instances: list) -> np.ndarray:
        """Raises ``model_code.InvalidInstances`` naming each bad field."""
        return self.predictor(self.encoder.encode_records(instances))

    def predict_frame(self, frame) -> np.ndarray:
        return self.predictor(self.encoder.encode_frame(frame))


def version_folder(cache_dir: Path, version: dict[str, Any]) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(version["model"]))
    return Path(cache_dir) / safe / str(version["version"])


def _artifact_uri(model_uri: str, tracking_uri: str | None) -> str:
    """Where a ``models:/name/version`` (or ``models:/name@alias``) lives, asked of the given
    store: MLflow resolves ``models:/`` through its process-wide registry URI otherwise, which in
    a fresh worker or replica is not the portal's store."""
    if not model_uri.startswith("models:/"):
        return model_uri
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name_part = model_uri[len("models:/"):]
    if "@" in name_part:
        name, alias = name_part.split("@", 1)
        number = client.get_model_version_by_alias(name, alias).version
    else:
        name, _, number = name_part.rpartition("/")
    return client.get_model_version_download_uri(name, str(number))


def version_download(version: dict[str, Any], cache_dir: Path, tracking_uri: str | None = None) -> Path:
    """The version's model folder (and run preprocessing) in the cache; downloaded once."""
    import mlflow.artifacts

    folder = version_folder(cache_dir, version)
    marker = folder / COMPLETE
    if marker.exists():
        try:
            if json.loads(marker.read_text()).get("model_uri") == version["model_uri"]:
                return folder
        except ValueError:
            pass
        shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=_artifact_uri(version["model_uri"], tracking_uri),
                                            dst_path=str(staging / "dl"), tracking_uri=tracking_uri)
        downloaded = staging / "dl"
        # download_artifacts puts a folder URI's files under its last path element.
        inner = [p for p in downloaded.iterdir()]
        model_dir = inner[0] if len(inner) == 1 and inner[0].is_dir() and not (downloaded / "MLmodel").exists() else downloaded
        model_dir.rename(staging / "model")
        if version.get("run_id"):
            try:
                mlflow.artifacts.download_artifacts(run_id=version["run_id"], artifact_path="preprocessing.json",
                                                    dst_path=str(staging), tracking_uri=tracking_uri)
            except Exception:  # a pyfunc version carries its own copy
                logger.info("run %s has no preprocessing.json", version["run_id"])
        (staging / COMPLETE).write_text(json.dumps({"model_uri": version["model_uri"], "at": time.time()}))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(staging, folder)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _mlmodel(model_dir: Path) -> dict[str, Any]:
    import yaml

    with open(model_dir / "MLmodel") as f:
        return yaml.safe_load(f)


def pyfunc_artifacts(model_dir: Path) -> dict[str, str] | None:
    """The portal pyfunc's artifacts as local paths, or None for another kind of model."""
    pyfunc = _mlmodel(model_dir).get("flavors", {}).get("python_function", {})
    artifacts = pyfunc.get("artifacts") or {}
    if model_code.PREPROCESSING not in artifacts:
        return None
    return {name: str(model_dir / spec["path"]) for name, spec in artifacts.items()}


def version_load(version: dict[str, Any], *, cache_dir: Path, tracking_uri: str | None = None,
                 device: str = "cpu") -> LoadedVersion:
    started = time.perf_counter()
    try:
        folder = version_download(version, cache_dir, tracking_uri)
    except Exception as exc:
        raise LoadFailed(f"could not download {version.get('model_uri')}: {exc}") from exc
    model_dir = folder / "model"
    artifacts = pyfunc_artifacts(model_dir)
    if artifacts is not None:
        preprocessing = model_code.preprocessing_load(artifacts[model_code.PREPROCESSING])
        native = model_code.predictor_load(artifacts, device)
        legacy = False
    else:
        preprocessing, native = _legacy_load(folder, model_dir, device)
        legacy = True
    loaded = LoadedVersion(info=dict(version), preprocessing=preprocessing,
                           encoder=model_code.FastEncoder(preprocessing), native=native, legacy=legacy)
    if version.get("fast_path") and isinstance(native, model_code.LightGBMPredictor):
        try:
            loaded.fast = fast_path.fast_predictor(native, folder, loaded.encoder, loaded.notes, refuse_mismatch=True)
        except fast_path.FastPathMismatch as exc:
            raise LoadFailed(str(exc)) from exc
    _warm(loaded)
    loaded.load_seconds = time.perf_counter() - started
    return loaded


def _legacy_load(folder: Path, model_dir: Path, device: str):
    path = folder / "preprocessing.json"
    if not path.exists():
        raise LoadFailed("a model logged before the self-contained format needs the run's preprocessing.json, "
                         "and the run has none")
    preprocessing = model_code.preprocessing_load(str(path))
    flavors = _mlmodel(model_dir).get("flavors", {})
    if "lightgbm" in flavors:
        return preprocessing, model_code.LightGBMPredictor.from_file(str(model_dir / flavors["lightgbm"]["data"]))
    if "pytorch" in flavors:
        import mlflow.pytorch

        module = mlflow.pytorch.load_model(str(model_dir), map_location=device)
        if hasattr(module, "eval"):
            module.eval()
        return preprocessing, model_code.TorchPredictor(module, device)
    raise LoadFailed(f"no loader for a model with flavors {', '.join(flavors)}")


def _warm(loaded: LoadedVersion) -> None:
    """One prediction at load, so the first request pays no lazy initialisation."""
    row = [None] * len(loaded.features)
    out = loaded.predict([row])
    if len(out) != 1:
        raise LoadFailed(f"the model answered {len(out)} rows for 1")
