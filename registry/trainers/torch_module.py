"""The PyTorch module the MLP trainer saves. It lives in ``registry.model_code`` (the saved
model's own code, loadable without the portal); this name is kept for the trainer's imports."""

from __future__ import annotations

from registry.model_code import mlp_class

MLP = mlp_class()
