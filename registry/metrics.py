"""Model quality metrics, pure numpy, so every framework is scored the same way."""

from __future__ import annotations

import numpy as np

_EPS = 1e-15


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y - pred)))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / total if total > 0 else 0.0


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve from ranks (ties share their average rank)."""
    y = np.asarray(y).astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(len(score), dtype=float)
    # Average rank per group of equal scores.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(y: np.ndarray, prob: np.ndarray) -> float:
    """Binary (``prob`` of the positive class) or multiclass (``prob`` one column per class)."""
    y = np.asarray(y).astype(int)
    prob = np.clip(np.asarray(prob, dtype=float), _EPS, 1 - _EPS)
    if prob.ndim == 1:
        return float(-np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob)))
    return float(-np.mean(np.log(prob[np.arange(len(y)), y])))


def accuracy(y: np.ndarray, prob: np.ndarray) -> float:
    prob = np.asarray(prob)
    predicted = (prob >= 0.5).astype(int) if prob.ndim == 1 else prob.argmax(axis=1)
    return float(np.mean(predicted == np.asarray(y).astype(int)))


def task_metrics(task: str, y: np.ndarray, pred: np.ndarray, *, train_y: np.ndarray | None = None) -> dict[str, float]:
    """The final metrics for one task on the validation set. ``train_y`` gives the baseline:
    what always predicting the training mean (or class rates) would score."""
    if task == "regression":
        baseline = float(np.mean(train_y)) if train_y is not None else float(np.mean(y))
        return {"mae": mae(y, pred), "rmse": rmse(y, pred), "r2": r2(y, pred),
                "baseline_mae": mae(y, np.full_like(y, baseline, dtype=float))}
    if task == "binary":
        return {"auc": roc_auc(y, pred), "log_loss": log_loss(y, pred), "accuracy": accuracy(y, pred),
                "positive_rate": float(np.mean(y))}
    return {"log_loss": log_loss(y, pred), "accuracy": accuracy(y, pred)}


# The metric shown while training and used to pick the best iteration, per task.
PRIMARY_METRIC = {"regression": ("mae", False), "binary": ("auc", True), "multiclass": ("log_loss", False)}
