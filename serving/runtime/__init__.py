"""The prediction server: a plain ASGI app (no ORM, no Django request machinery) that holds
every live endpoint's models in memory and answers KServe V1 and the Open Inference Protocol.

    python -m serving.runtime      # binds SERVING_HOST:SERVING_PORT (127.0.0.1:8001)

What to serve comes from the manifest source (``SERVING_MANIFEST_SOURCE``), a callable
returning::

    {"endpoints": {NAME: {"revision": int, "primary": VERSION,
                          "canary": VERSION + {"share": 1..50} or null, "shadows": [VERSION, ...],
                          "feature_views": [VIEW, ...]}}}
    VERSION = {"model_version_id": int, "model": str, "version": int, "model_uri": str,
               "run_id": str, "task": "regression"|"binary"|"multiclass",
               "framework": "lightgbm"|"torch", "fast_path": bool}
    VIEW = {"id": int, "name": str, "entity_key": str, "features": [{"name", "type"}, ...],
            "ttl_seconds": int, "tier": "redis"|"sql"}

An endpoint with feature views also takes instances that carry only entity keys: the features
come from the store, values in the request win, and the reply says per instance which were
missing from the store and which were left to the model's default (``features``), and whether
every tier answered (``feature_store``; see ``features``).

Routes: ``GET /healthz``, ``/readyz``, ``/metrics``; KServe V1 ``GET /v1/models/{name}``,
``POST /v1/models/{name}:predict``; Open Inference ``GET /v2/health/live``, ``/v2/health/ready``,
``/v2/models/{name}``, ``/v2/models/{name}/ready``, ``POST /v2/models/{name}/infer``. The reply
shapes are documented in ``protocol``.
"""
