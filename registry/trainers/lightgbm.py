"""Gradient-boosted trees with LightGBM, deterministic for a given seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from registry.metrics import task_metrics
from registry.trainers.base import (
    Param, Reporter, Throttled, TrainResult, TrainSpec, encode, importance_normalised, prepare, training_categories,
)

LABEL = "LightGBM"

DEFAULTS: dict[str, Any] = {
    "num_boost_round": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "max_depth": -1,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
    "early_stopping_rounds": 30,
}

PARAMS: dict[str, Param] = {
    "num_boost_round": Param(int, 1, 10_000, "Boosting rounds at most"),
    "learning_rate": Param(float, 1e-6, None, "Shrinkage per round"),
    "num_leaves": Param(int, 2, 131_072),
    "max_depth": Param(int, -1, 1000, "-1 for no limit"),
    "min_data_in_leaf": Param(int, 1, None),
    "feature_fraction": Param(float, 0.01, 1.0),
    "bagging_fraction": Param(float, 0.01, 1.0),
    "bagging_freq": Param(int, 0, None),
    "lambda_l1": Param(float, 0.0, None),
    "lambda_l2": Param(float, 0.0, None),
    "early_stopping_rounds": Param(int, 0, None, "Stop after this many rounds without improvement; 0 for never"),
}

_OBJECTIVE = {
    "regression": ("regression", "l1"),
    "binary": ("binary", "auc"),
    "multiclass": ("multiclass", "multi_logloss"),
}
# LightGBM's name for the metric each task reports each round, as the portal names it.
_METRIC_NAME = {"l1": "mae", "auc": "auc", "multi_logloss": "log_loss"}


def train(spec: TrainSpec, frame: pd.DataFrame, reporter: Reporter) -> TrainResult:
    import lightgbm as lgb

    data = prepare(frame, spec)
    params = spec.params
    preprocessing = {"encoding": "codes", "numeric": list(spec.numeric_features),
                     "categories": training_categories(data.train, spec.categorical_features)}
    x_train = encode(data.train, preprocessing)
    x_valid = encode(data.valid, preprocessing)
    objective, metric = _OBJECTIVE[spec.task]
    booster_params: dict[str, Any] = {
        "objective": objective,
        "metric": metric,
        "learning_rate": params["learning_rate"],
        "num_leaves": params["num_leaves"],
        "max_depth": params["max_depth"],
        "min_data_in_leaf": params["min_data_in_leaf"],
        "feature_fraction": params["feature_fraction"],
        "bagging_fraction": params["bagging_fraction"],
        "bagging_freq": params["bagging_freq"],
        "lambda_l1": params["lambda_l1"],
        "lambda_l2": params["lambda_l2"],
        # Reproducible: the same data, parameters and seed give the same trees on any machine.
        "seed": spec.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    if spec.task == "multiclass":
        booster_params["num_class"] = len(data.classes)

    train_set = lgb.Dataset(x_train, label=data.y_train, categorical_feature=list(spec.categorical_features) or "auto",
                            free_raw_data=False)
    valid_set = lgb.Dataset(x_valid, label=data.y_valid, reference=train_set, free_raw_data=False)
    rounds = params["num_boost_round"]
    history: dict[str, dict[str, list[float]]] = {}
    shown = _METRIC_NAME[metric]
    throttle = Throttled(reporter)

    def report(env) -> None:
        done = env.iteration + 1
        value = next((r[2] for r in env.evaluation_result_list if r[0] == "valid"), float("nan"))
        throttle.point(f"valid_{shown}", done, value)
        throttle.step(done, rounds, f"Round {done} of {rounds}: validation {shown} {value:.4f}", force=done == rounds)

    callbacks = [lgb.record_evaluation(history), report]
    if params["early_stopping_rounds"]:
        callbacks.append(lgb.early_stopping(params["early_stopping_rounds"], first_metric_only=True, verbose=False))
    booster = lgb.train(
        booster_params, train_set, num_boost_round=rounds, valid_sets=[train_set, valid_set],
        valid_names=["train", "valid"], callbacks=callbacks,
    )
    throttle.tick(force=True)  # the last points of the curve, when early stopping ended it
    best = booster.best_iteration or booster.current_iteration()
    reporter.log(f"LightGBM stopped after {booster.current_iteration()} rounds; best round {best}.")

    def predict(raw: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(encode(raw, preprocessing), num_iteration=best))

    metrics = task_metrics(spec.task, data.y_valid, predict(data.valid), train_y=data.y_train)
    metrics["best_iteration"] = float(best)
    gains = booster.feature_importance(importance_type="gain", iteration=best)
    return TrainResult(
        model=booster,
        metrics=metrics,
        history={
            f"{part}_{_METRIC_NAME[name]}": [float(v) for v in values]
            for part, by_metric in history.items() for name, values in by_metric.items()
        },
        feature_importance=importance_normalised(dict(zip(spec.features, map(float, gains)))),
        iterations=best,
        predict=predict,
        preprocessing=preprocessing,
        classes=data.classes,
        train_frame=data.train.assign(**{spec.target: data.y_train}),
        valid_frame=data.valid.assign(**{spec.target: data.y_valid}),
    )

