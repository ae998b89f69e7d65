"""Sources of the serving manifest: what each endpoint serves.

A source is a zero-argument callable returning ``{"endpoints": {NAME: {"revision", "primary",
"canary", "shadows"}}}`` (see ``serving/runtime/__init__.py``); the runtime calls the one named by
``SERVING_MANIFEST_SOURCE``.
"""

from __future__ import annotations

import json
import os
from typing import Any


def manifest_from_database() -> dict[str, Any]:
    """The deployments recorded in the portal database (written with the deployment models)."""
    return {"endpoints": {}}


def manifest_from_file() -> dict[str, Any]:
    """The JSON file named by ``SERVING_MANIFEST_FILE``: for benchmarks and tests."""
    path = os.environ.get("SERVING_MANIFEST_FILE")
    if not path:
        raise RuntimeError("SERVING_MANIFEST_FILE is not set; name the JSON manifest file to serve.")
    with open(path) as f:
        return json.load(f)
