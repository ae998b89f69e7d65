"""Embedded defaults: where each store lives when no environment variable points elsewhere.

Everything the portal keeps on one machine lives under one folder (``PORTAL_VAR_DIR``,
default ``./var``): the SQLite database, the Redis socket and snapshot, MLflow's store,
uploaded datasets and the outbox of emails.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("PORTAL_VAR_DIR") or BASE_DIR / "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_socket_path() -> Path:
    run = var_dir() / "run"
    run.mkdir(parents=True, exist_ok=True)
    return run / "redis.sock"


def embedded_redis_url(db: int = 0) -> str:
    return f"unix://{redis_socket_path()}?db={db}"


def embedded_mlflow_uri() -> str:
    folder = var_dir() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def embedded_mlflow_artifacts() -> Path:
    folder = var_dir() / "mlflow" / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
