"""Sources of the serving manifest: what each endpoint serves.

A source is a zero-argument callable returning ``{"endpoints": {NAME: {"revision", "primary",
"canary", "shadows"}}}``; the serving runtime calls the one named by ``SERVING_MANIFEST_SOURCE``
from its reconcile thread, never on a request's path.
"""

from __future__ import annotations

import json
import os
from typing import Any


def manifest_from_database() -> dict[str, Any]:
    """The live revisions recorded in the portal database."""
    from django.db import close_old_connections

    from serving.selectors import serving_manifest

    close_old_connections()  # a long-lived thread: never reuse a connection the server closed
    return serving_manifest()


def manifest_from_file() -> dict[str, Any]:
    """The JSON file named by ``SERVING_MANIFEST_FILE``: for benchmarks and tests."""
    path = os.environ.get("SERVING_MANIFEST_FILE")
    if not path:
        raise RuntimeError("SERVING_MANIFEST_FILE is not set; name the JSON manifest file to serve.")
    with open(path) as f:
        return json.load(f)
