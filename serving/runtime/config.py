"""The runtime's settings, read once at start (from the portal settings) into a plain object,
so the request path never touches Django."""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Config:
    redis_url: str
    manifest_source: str
    tracking_uri: str
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 8001
    reconcile_seconds: float = 5.0
    log_predictions: bool = True
    log_maxlen: int = 1_000_000
    log_queue: int = 10_000
    shadow_queue: int = 1_000
    max_batch: int = 1000
    max_body_bytes: int = 10 * 1024 * 1024
    torch_threads: int = 1
    device: str = "cpu"
    # The feature store's tiers, for endpoints that name feature views.
    feature_redis_url: str = ""
    feature_database: dict[str, Any] | None = None
    replica: str = field(default_factory=lambda: uuid.uuid4().hex)
    hostname: str = field(default_factory=socket.gethostname)
    started_at: float = field(default_factory=time.time)


def config_from_settings(**overrides) -> Config:
    from django.conf import settings

    from registry.mlflow_client import tracking_uri

    values = dict(
        redis_url=settings.SERVING_REDIS_URL,
        manifest_source=settings.SERVING_MANIFEST_SOURCE,
        tracking_uri=tracking_uri(),
        cache_dir=Path(settings.SERVING_CACHE_DIR),
        host=settings.SERVING_HOST,
        port=settings.SERVING_PORT,
        reconcile_seconds=settings.SERVING_RECONCILE_SECONDS,
        log_predictions=settings.SERVING_LOG_PREDICTIONS,
        log_maxlen=settings.SERVING_LOG_MAXLEN,
        log_queue=settings.SERVING_LOG_QUEUE,
        shadow_queue=settings.SERVING_SHADOW_QUEUE,
        max_batch=settings.SERVING_MAX_BATCH,
        max_body_bytes=settings.SERVING_MAX_BODY_BYTES,
        torch_threads=settings.SERVING_TORCH_THREADS,
        device=settings.SERVING_DEVICE,
        feature_redis_url=getattr(settings, "FEATURE_STORE_REDIS_URL", ""),
        feature_database=_feature_database(settings.DATABASES["default"]),
    )
    values.update(overrides)
    values["device"] = device_resolve(values["device"])
    return Config(**values)


def _feature_database(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The SQL tier's database, or None where it is neither PostgreSQL nor SQLite (its views
    then answer with defaults and say so)."""
    from serving.feature_store.tiers import database_of

    try:
        return database_of(entry)
    except ValueError:
        return None


def device_resolve(wanted: str) -> str:
    """``cuda`` only when a GPU is there; anything else serves on the CPU."""
    if not wanted.startswith("cuda"):
        return "cpu"
    try:
        import torch

        return wanted if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"
