"""The PyTorch module the MLP trainer saves; its own module so loading a saved model needs only
this file (and torch), not the trainer."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    """Standardise the encoded features, hidden ReLU layers, then the task's output: the value
    (regression), P(positive) (binary) or class probabilities (multiclass)."""

    def __init__(self, *, n_in: int, n_out: int, hidden_layers: list[int], dropout: float, task: str,
                 scale: dict[str, np.ndarray]):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for hidden in hidden_layers:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.task = task
        for name in ("x_mean", "x_std", "y_mean", "y_std"):
            self.register_buffer(name, torch.tensor(np.asarray(scale[name]), dtype=torch.float32))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The output before the link: what the loss is computed on (standardised for regression)."""
        return self.net((x - self.x_mean) / self.x_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.raw(x)
        if self.task == "regression":
            return out.squeeze(-1) * self.y_std + self.y_mean
        if self.task == "binary":
            return torch.sigmoid(out.squeeze(-1))
        return torch.softmax(out, dim=-1)
