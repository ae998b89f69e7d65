"""The one module that talks to MLflow. Configure it with MLFLOW_TRACKING_URI."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings


def tracking_uri() -> str:
    return settings.MLFLOW_TRACKING_URI


@lru_cache(maxsize=4)
def _client(uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


def client():
    return _client(tracking_uri())


def ping() -> str:
    """Reach the tracking store; return a short description of what answered."""
    experiments = client().search_experiments(max_results=1)
    return f"{tracking_uri().split('://', 1)[0]} store, {len(experiments)} experiment(s) visible"
