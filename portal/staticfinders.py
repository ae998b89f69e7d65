"""Serves Plotly's JavaScript bundle from the installed plotly package, so the version
drawn in the browser always matches the one that builds the figures, and no CDN is needed."""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PATHS = {"vendor/plotly/plotly.min.js": "plotly.min.js"}


class VendorFinder(BaseFinder):
    storage = FileSystemStorage(location=str(PLOTLY_DIR))

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        name = PATHS.get(path)
        if name is None:
            return [] if find_all else None
        full = str(PLOTLY_DIR / name)
        return [full] if find_all else full

    def list(self, ignore_patterns):
        for public, name in PATHS.items():
            yield name, _PrefixedStorage(public)


class _PrefixedStorage(FileSystemStorage):
    def __init__(self, public: str):
        super().__init__(location=str(PLOTLY_DIR))
        self.prefix = str(Path(public).parent)
