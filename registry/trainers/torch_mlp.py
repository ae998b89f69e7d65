"""A PyTorch multilayer perceptron, deterministic for a given seed.

The saved module (``torch_module.MLP``) takes the one-hot encoded features (see
``base.encode``) and standardises them itself; its output is the prediction: the value,
P(positive) or class probabilities.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd

from registry.metrics import PRIMARY_METRIC, task_metrics
from registry.trainers.base import (
    Param, Reporter, Throttled, TrainingFailed, TrainResult, TrainSpec, encode, importance_normalised,
    one_hot_categories, prepare,
)

LABEL = "PyTorch"

DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "learning_rate": 0.003,
    "batch_size": 128,
    "hidden_layers": [64, 32],
    "dropout": 0.0,
    "weight_decay": 0.0,
    "early_stopping_rounds": 10,
}

PARAMS: dict[str, Param] = {
    "epochs": Param(int, 1, 100_000, "Passes over the training rows at most"),
    "learning_rate": Param(float, 1e-9, None, "Adam's step size"),
    "batch_size": Param(int, 1, 1_000_000),
    "hidden_layers": Param(list, 1, 4096, "Width of each hidden layer"),
    "dropout": Param(float, 0.0, 0.95),
    "weight_decay": Param(float, 0.0, None),
    "early_stopping_rounds": Param(int, 0, None, "Stop after this many epochs without improvement; 0 for never"),
}


def train(spec: TrainSpec, frame: pd.DataFrame, reporter: Reporter) -> TrainResult:
    import torch
    from torch.nn import functional as F

    from registry.trainers.torch_module import MLP

    data = prepare(frame, spec)
    params = spec.params
    preprocessing = {
        "encoding": "one_hot",
        "dtype": "float32",
        "numeric": list(spec.numeric_features),
        "fill": {name: _finite_or_zero(data.train[name].mean()) for name in spec.numeric_features},
        "categories": one_hot_categories(data.train, spec.categorical_features, max_categories=spec.max_categories,
                                         reporter=reporter),
    }
    x_train = encode(data.train, preprocessing).to_numpy()
    x_valid = encode(data.valid, preprocessing).to_numpy()
    std = x_train.std(axis=0)
    scale = {
        "x_mean": x_train.mean(axis=0),
        "x_std": np.where(std > 0, std, 1.0),
        "y_mean": np.float32(data.y_train.mean() if spec.task == "regression" else 0.0),
        "y_std": np.float32((data.y_train.std() or 1.0) if spec.task == "regression" else 1.0),
    }
    n_out = 1 if spec.task in ("regression", "binary") else len(data.classes)

    # Reproducible: one thread and deterministic kernels; the process-wide switches are put
    # back afterwards because the worker process runs other jobs too.
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(spec.seed)
        model = MLP(n_in=x_train.shape[1], n_out=n_out, hidden_layers=params["hidden_layers"],
                    dropout=params["dropout"], task=spec.task, scale=scale)
        xt = torch.tensor(x_train, dtype=torch.float32)
        xv = torch.tensor(x_valid, dtype=torch.float32)
        if spec.task == "regression":
            yt = torch.tensor((data.y_train - scale["y_mean"]) / scale["y_std"], dtype=torch.float32)
        elif spec.task == "binary":
            yt = torch.tensor(data.y_train, dtype=torch.float32)
        else:
            yt = torch.tensor(data.y_train, dtype=torch.long)

        def loss_of(out, target):
            if spec.task == "regression":
                return F.mse_loss(out.squeeze(-1), target)
            if spec.task == "binary":
                return F.binary_cross_entropy_with_logits(out.squeeze(-1), target)
            return F.cross_entropy(out, target)

        optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"])
        generator = torch.Generator().manual_seed(spec.seed)
        metric_name, higher_is_better = PRIMARY_METRIC[spec.task]
        epochs, batch = params["epochs"], params["batch_size"]
        patience = params["early_stopping_rounds"]
        history: dict[str, list[float]] = {"train_loss": [], f"valid_{metric_name}": []}
        best_value, best_epoch, best_state = None, 0, None
        throttle = Throttled(reporter)

        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(xt), generator=generator)
            total, seen = 0.0, 0
            for start in range(0, len(order), batch):
                index = order[start:start + batch]
                optimizer.zero_grad()
                loss = loss_of(model.raw(xt[index]), yt[index])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
                seen += len(index)
                throttle.tick()
            train_loss = total / seen
            model.eval()
            with torch.no_grad():
                valid_pred = model(xv).numpy().astype(float)
            if not math.isfinite(train_loss) or not np.isfinite(valid_pred).all():
                raise TrainingFailed(
                    f"Training diverged at epoch {epoch}: the loss became {train_loss}. "
                    f"Lower the learning rate (now {params['learning_rate']:g}) and train again.",
                    field="params",
                )
            value = task_metrics(spec.task, data.y_valid, valid_pred, train_y=data.y_train)[metric_name]
            history["train_loss"].append(train_loss)
            history[f"valid_{metric_name}"].append(value)
            throttle.point(f"valid_{metric_name}", epoch, value)
            throttle.step(epoch, epochs, f"Epoch {epoch} of {epochs}: validation {metric_name} {value:.4f}",
                          force=epoch == epochs)
            if best_value is None or (value > best_value if higher_is_better else value < best_value):
                best_value, best_epoch, best_state = value, epoch, copy.deepcopy(model.state_dict())
            elif patience and epoch - best_epoch >= patience:
                reporter.log(f"No better validation {metric_name} for {patience} epochs; stopped at epoch {epoch}.")
                break
        throttle.tick(force=True)  # the last points of the curve, when early stopping ended it
        model.load_state_dict(best_state)
        model.eval()
        reporter.log(f"PyTorch trained {epoch} epochs; best epoch {best_epoch}.")

        def predict(raw: pd.DataFrame) -> np.ndarray:
            with torch.no_grad():
                x = torch.tensor(encode(raw, preprocessing).to_numpy(), dtype=torch.float32)
                return model(x).numpy().astype(float)

        metrics = task_metrics(spec.task, data.y_valid, predict(data.valid), train_y=data.y_train)
        metrics["best_iteration"] = float(best_epoch)
        importance = _permutation_importance(spec, data, predict, metrics[metric_name], higher_is_better)
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])

    return TrainResult(
        model=model,
        metrics=metrics,
        history=history,
        feature_importance=importance,
        iterations=best_epoch,
        predict=predict,
        preprocessing=preprocessing,
        classes=data.classes,
        train_frame=data.train.assign(**{spec.target: data.y_train}),
        valid_frame=data.valid.assign(**{spec.target: data.y_valid}),
    )


def _finite_or_zero(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else 0.0


def _permutation_importance(spec, data, predict, reference: float, higher_is_better: bool) -> dict[str, float]:
    """How much the validation metric worsens when one feature's values are shuffled."""
    metric_name = PRIMARY_METRIC[spec.task][0]
    rng = np.random.default_rng(spec.seed)
    drops: dict[str, float] = {}
    for name in spec.features:
        shuffled = data.valid.copy()
        shuffled[name] = rng.permutation(shuffled[name].to_numpy())
        value = task_metrics(spec.task, data.y_valid, predict(shuffled), train_y=data.y_train)[metric_name]
        drops[name] = (reference - value) if higher_is_better else (value - reference)
    return importance_normalised(drops)
