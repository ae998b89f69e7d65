"""The one module that talks to MLflow. Configure it with MLFLOW_TRACKING_URI.

The portal's names live in MLflow as they do in the portal: one experiment per project
(artifacts under MLFLOW_ARTIFACT_ROOT/<project>), one registered model per portal registered
model. Every call is idempotent where MLflow allows it, so a retried step does no harm.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from functools import lru_cache
from typing import Any, Iterator
from urllib.parse import quote

from django.conf import settings

logger = logging.getLogger(__name__)

# Tags the portal writes on runs and versions, read back by the pages and the tests.
TAG_JOB = "portal.job_id"
TAG_PROJECT = "portal.project"
TAG_PROPOSAL = "portal.proposal_id"
TAG_DATASET = "portal.dataset_id"
TAG_DATASET_SHA = "portal.dataset_sha256"
TAG_CODE_VERSION = "portal.code_version"
TAG_FRAMEWORK = "portal.framework"

_configure_lock = threading.Lock()


def tracking_uri() -> str:
    return settings.MLFLOW_TRACKING_URI


@lru_cache(maxsize=4)
def _client(uri: str):
    import mlflow

    store_initialise(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@lru_cache(maxsize=4)
def store_initialise(uri: str) -> None:
    """Create a new SQLite store's tables once, under a file lock.

    MLflow creates missing tables whenever a process first opens a store; two processes doing
    that at the same moment on a fresh file (the web process and a worker, say) collide with
    "table ... already exists". Whoever holds the lock creates them; the others then find them.
    """
    if not uri.startswith("sqlite:///"):
        return
    import fcntl
    from pathlib import Path

    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    database = Path(uri[len("sqlite:///"):])
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".init-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            TrackingStore(uri, str(settings.MLFLOW_ARTIFACT_ROOT))
            RegistryStore(uri)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def client():
    return _client(tracking_uri())


def ping() -> str:
    """Reach the tracking store; return a short description of what answered."""
    experiments = client().search_experiments(max_results=1)
    return f"{tracking_uri().split('://', 1)[0]} store, {len(experiments)} experiment(s) visible"


def _fluent():
    """mlflow's module-level API (needed to log models), pointed at our store."""
    import mlflow

    store_initialise(tracking_uri())
    with _configure_lock:
        if mlflow.get_tracking_uri() != tracking_uri():
            mlflow.set_tracking_uri(tracking_uri())
            mlflow.set_registry_uri(tracking_uri())
    return mlflow


# --- registered models -------------------------------------------------------------------

def registered_model_ensure(*, name: str, description: str = "", tags: dict[str, str] | None = None) -> None:
    """Create the registered model unless it exists already."""
    from mlflow.exceptions import MlflowException

    try:
        client().create_registered_model(name, tags=tags or {}, description=description or None)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def registered_model_get(name: str):
    """The MLflow registered model, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def model_versions(name: str) -> list:
    """Every version of a registered model, newest first."""
    versions = client().search_model_versions(f"name = '{_quote(name)}'")
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def model_version_register(*, name: str, model_uri: str, run_id: str, tags: dict[str, str]) -> str:
    """Register ``model_uri`` as the next version of ``name``; return its version number."""
    version = client().create_model_version(name=name, source=model_uri, run_id=run_id,
                                            tags={k: str(v) for k, v in tags.items()})
    try:
        _await_ready(name, version.version)
    except BaseException:
        model_version_delete(name=name, version=version.version)
        raise
    return str(version.version)


def model_version_delete(*, name: str, version: str) -> None:
    client().delete_model_version(name, version)


def _await_ready(name: str, version: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = client().get_model_version(name, version).status
        if status == "READY":
            return
        if status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
            raise RuntimeError(f"MLflow could not register version {version} of {name} (status {status}).")
        time.sleep(0.2)


def alias_set(*, name: str, alias: str, version: str) -> None:
    """Point ``alias`` at a version; MLflow's refusal becomes a readable domain error."""
    from mlflow.exceptions import MlflowException

    from portal.errors import DomainError

    try:
        client().set_registered_model_alias(name, alias, version)
    except MlflowException as exc:
        raise DomainError(f"MLflow refused to point {alias} at {name} version {version}: {exc.message}",
                          status=502) from None


# --- runs ----------------------------------------------------------------------------------

def experiment_ensure(name: str) -> str:
    """The id of the experiment ``name``, created with its artifacts under MLFLOW_ARTIFACT_ROOT."""
    from mlflow.exceptions import MlflowException

    existing = client().get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":  # deleted in the MLflow UI; the project still trains
            client().restore_experiment(existing.experiment_id)
        return existing.experiment_id
    try:
        return client().create_experiment(name, artifact_location=f"{settings.MLFLOW_ARTIFACT_ROOT.rstrip('/')}/{name}")
    except MlflowException as exc:  # created meanwhile by another worker
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client().get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def run_open(*, experiment: str, run_name: str, tags: dict[str, str],
             killed_on: tuple[type[BaseException], ...] = ()) -> Iterator[str]:
    """Start a run and yield its id. It ends FINISHED, or KILLED when one of ``killed_on`` is
    raised, or FAILED on any other exception (which is raised again)."""
    mlflow = _fluent()
    experiment_id = experiment_ensure(experiment)
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                           tags={k: str(v) for k, v in tags.items()})
    run_id = run.info.run_id
    try:
        yield run_id
    except BaseException as exc:
        status = "KILLED" if killed_on and isinstance(exc, killed_on) else "FAILED"
        try:
            mlflow.end_run(status=status)
        except Exception:
            logger.warning("could not end MLflow run %s as %s", run_id, status, exc_info=True)
        raise
    else:
        mlflow.end_run(status="FINISHED")


def run_status_set(*, run_id: str, status: str) -> None:
    client().set_terminated(run_id, status=status)


def run_get(run_id: str):
    return client().get_run(run_id)


def runs_search(*, experiment: str, filter_string: str = "") -> list:
    found = client().get_experiment_by_name(experiment)
    if found is None:
        return []
    return client().search_runs([found.experiment_id], filter_string=filter_string)


def run_log_params(*, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(k, str(v)[:6000]) for k, v in params.items()]
    for start in range(0, len(items), 100):
        client().log_batch(run_id, params=items[start:start + 100])


def run_log_metrics(*, run_id: str, metrics: dict[str, float], step: int | None = None) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
    for start in range(0, len(items), 1000):
        client().log_batch(run_id, metrics=items[start:start + 1000])


def run_log_history(*, run_id: str, history: dict[str, list[float]]) -> None:
    """Per-iteration metrics: value i of each series is logged at step i + 1."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(key, float(value), now, step) for key, values in history.items()
             for step, value in enumerate(values, start=1)]
    for start in range(0, len(items), 1000):
        client().log_batch(run_id, metrics=items[start:start + 1000])


def run_log_dict(*, run_id: str, data: dict, artifact_file: str) -> None:
    client().log_dict(run_id, data, artifact_file)


def run_artifact_dict(*, run_id: str, artifact_file: str) -> dict:
    import json

    import mlflow.artifacts

    return json.loads(mlflow.artifacts.load_text(f"{run_artifact_uri(run_id)}/{artifact_file}"))


def run_artifact_uri(run_id: str) -> str:
    return client().get_run(run_id).info.artifact_uri


def model_log(*, framework: str, model: Any, preprocessing: dict[str, Any], iterations: int | None,
              input_example, output_example, pip_requirements: list[str]):
    """Log the portal's self-contained pyfunc (``registry/model_code.py``, raw features in) in
    the active run, with the native model and ``preprocessing.json`` as its artifacts; return
    MLflow's ModelInfo (``model_uri`` is what gets registered). ``input_example`` holds raw
    feature rows."""
    import json
    import tempfile
    from pathlib import Path

    mlflow = _fluent()
    from registry import model_code

    with tempfile.TemporaryDirectory() as folder:
        with open(Path(folder) / "preprocessing.json", "w") as out:
            json.dump(preprocessing, out)
        artifacts = {model_code.PREPROCESSING: str(Path(folder) / "preprocessing.json")}
        if framework == "lightgbm":
            booster_path = str(Path(folder) / "model.lgb.txt")
            model.save_model(booster_path, num_iteration=iterations or None)
            artifacts[model_code.BOOSTER] = booster_path
        elif framework == "torch":
            artifacts.update(model_code.mlp_save(model, folder))
        else:
            raise ValueError(f"unknown framework {framework!r}")
        return mlflow.pyfunc.log_model(
            name="model", python_model=model_code.__file__, artifacts=artifacts,
            signature=raw_signature(preprocessing, output_example), input_example=input_example,
            pip_requirements=pip_requirements,
        )


def raw_signature(preprocessing: dict[str, Any], output_example):
    """Raw features in, named in feature order, each of MLflow's "any" type: MLflow's own
    check refuses an int64 column for a double one, and a category may come as text or as a
    number; the model's encoder checks each value and names the bad ones instead."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    features = preprocessing.get("features") or [*preprocessing["numeric"], *preprocessing["categories"]]
    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in features])
    return ModelSignature(inputs=inputs, outputs=infer_signature(None, output_example).outputs)


def run_log_frame(*, run_id: str, frame, artifact_file: str) -> None:
    """Write ``frame`` as Parquet into the run's artifacts."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / artifact_file
        frame.to_parquet(path, index=False)
        client().log_artifact(run_id, str(path))


def run_metric_history(*, run_id: str, key: str) -> list[tuple[int, float]]:
    """Every value logged for ``key`` in the run, as (step, value), in step order."""
    history = client().get_metric_history(run_id, key)
    return [(m.step, m.value) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]


def run_url(run_id: str, experiment_id: str) -> str:
    return f"{settings.MLFLOW_UI_URL.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def model_url(name: str) -> str:
    return f"{settings.MLFLOW_UI_URL.rstrip('/')}/#/models/{quote(name, safe='')}"


def model_version_url(name: str, version: int | str) -> str:
    return f"{model_url(name)}/versions/{version}"


def _quote(value: str) -> str:
    return value.replace("'", "\\'")
