"""Trainers, one per framework, behind one interface (see ``base``).

Importing a trainer module is cheap (its framework is imported when it trains), so the web
process can check parameters against ``DEFAULTS`` and ``PARAMS`` without loading torch.
"""

from __future__ import annotations

from types import ModuleType


def get(framework: str) -> ModuleType:
    if framework == "lightgbm":
        from registry.trainers import lightgbm

        return lightgbm
    if framework == "torch":
        from registry.trainers import torch_mlp

        return torch_mlp
    raise KeyError(f"unknown framework {framework!r}")
