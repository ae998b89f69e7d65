"""The trainers on generated data: quality, reproducibility, readable failures. No database."""

from __future__ import annotations

import numpy as np
import pytest

from registry import demo_data, trainers
from registry.trainers.base import TrainingFailed, TrainSpec, encode, params_resolve
from portal.errors import DomainError

DELIVERY_NUMERIC = ["distance_km", "items", "hour", "weekday", "courier_load", "raining"]
FRAUD_NUMERIC = ["amount", "hour", "card_age_days", "country_mismatch", "velocity_1h"]


class Recorder:
    def __init__(self):
        self.progress_calls: list[tuple[float, str]] = []
        self.lines: list[str] = []

    def progress(self, percent, message=None):
        self.progress_calls.append((percent, message))

    def log(self, text):
        self.lines.append(text)


def spec_for(framework, problem="delivery_times", *, seed=0, params=None, **changes):
    trainer = trainers.get(framework)
    _, target, task, categorical = demo_data.PROBLEMS[problem]
    numeric = DELIVERY_NUMERIC if problem == "delivery_times" else FRAUD_NUMERIC
    fields = dict(target=target, numeric_features=numeric, categorical_features=categorical, task=task,
                  params=params_resolve(trainer.LABEL, trainer.PARAMS, trainer.DEFAULTS, params), seed=seed)
    fields.update(changes)
    return TrainSpec(**fields)


@pytest.fixture(scope="module")
def delivery():
    return demo_data.delivery_times(2000, seed=0)


@pytest.fixture(scope="module")
def fraud():
    return demo_data.card_fraud(2000, seed=0)


def test_demo_data_is_realistic_and_the_same_for_the_same_seed():
    frame = demo_data.delivery_times(500, seed=7)
    assert frame.equals(demo_data.delivery_times(500, seed=7))
    assert not frame.equals(demo_data.delivery_times(500, seed=8))
    assert set(frame["zone"]) <= set(demo_data.ZONES)
    assert 15 < frame["minutes"].mean() < 50 and frame["courier_load"].isna().any()
    fraud = demo_data.card_fraud(20_000, seed=1)
    assert 0.015 < fraud["is_fraud"].mean() < 0.05


def test_lightgbm_learns_delivery_times_far_better_than_the_mean(delivery):
    reporter = Recorder()
    result = trainers.get("lightgbm").train(spec_for("lightgbm"), delivery, reporter)
    assert result.metrics["mae"] < 0.5 * result.metrics["baseline_mae"]
    assert result.metrics["r2"] > 0.8
    assert result.feature_importance["distance_km"] == max(result.feature_importance.values())
    assert sum(result.feature_importance.values()) == pytest.approx(1.0)
    assert len(result.history["valid_mae"]) >= result.iterations
    assert reporter.progress_calls and "validation mae" in reporter.progress_calls[0][1]
    # The saved booster takes the encoded frame; unseen zones are treated as missing, not errors.
    rows = delivery.head(3).assign(zone=["center", "moon", None])
    assert encode(rows, result.preprocessing)["zone"].isna().tolist() == [False, True, True]
    assert np.isfinite(result.predict(rows)).all()


def test_lightgbm_finds_fraud(fraud):
    result = trainers.get("lightgbm").train(spec_for("lightgbm", "card_fraud"), fraud, Recorder())
    assert result.metrics["auc"] > 0.8
    assert result.classes == [0, 1]
    assert 0.01 < result.metrics["positive_rate"] < 0.06


def test_torch_mlp_learns_delivery_times_and_finds_fraud(delivery, fraud):
    result = trainers.get("torch").train(spec_for("torch"), delivery, Recorder())
    assert result.metrics["mae"] < 0.6 * result.metrics["baseline_mae"]
    assert len(result.history["train_loss"]) == len(result.history["valid_mae"])
    fraud_result = trainers.get("torch").train(spec_for("torch", "card_fraud"), fraud, Recorder())
    assert fraud_result.metrics["auc"] > 0.75
    probabilities = fraud_result.predict(fraud.head(20))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize("framework", ["lightgbm", "torch"])
def test_the_same_config_and_seed_give_the_same_model(framework, delivery):
    trainer = trainers.get(framework)
    first = trainer.train(spec_for(framework, seed=11), delivery, Recorder())
    second = trainer.train(spec_for(framework, seed=11), delivery, Recorder())
    assert first.metrics == second.metrics
    assert first.history == second.history
    assert np.array_equal(first.predict(delivery.head(50)), second.predict(delivery.head(50)))
    other = trainer.train(spec_for(framework, seed=12), delivery, Recorder())
    assert other.metrics != first.metrics


def test_multiclass_works_with_text_classes(delivery):
    frame = delivery.assign(speed=np.select([delivery.minutes < 25, delivery.minutes < 35], ["fast", "normal"], "slow"))
    spec = spec_for("lightgbm", target="speed", task="multiclass", params={"num_boost_round": 40})
    result = trainers.get("lightgbm").train(spec, frame.drop(columns="minutes"), Recorder())
    assert result.classes == ["fast", "normal", "slow"]
    assert result.metrics["accuracy"] > 0.6
    assert result.predict(frame.head(4)).shape == (4, 3)


@pytest.mark.parametrize("framework", ["lightgbm", "torch"])
@pytest.mark.parametrize("change, frame_change, message", [
    ({"numeric_features": ["distance_km", "tip"]}, None, "Column 'tip' is not in the dataset"),
    ({"numeric_features": ["distance_km", "zone"], "categorical_features": []}, None,
     "Feature 'zone' is listed as numeric but holds values that are not numbers, such as 'center'"),
    ({}, "nan_target", "The target 'minutes' is missing in 2 of 2000 rows (first at row 4)"),
    ({"task": "binary"}, None, "A binary task needs a target with exactly two values"),
])
def test_bad_input_fails_with_a_reason_that_names_the_column(framework, change, frame_change, message, delivery):
    frame = delivery
    if frame_change == "nan_target":
        frame = delivery.copy()
        frame.loc[[3, 10], "minutes"] = np.nan
    with pytest.raises(TrainingFailed) as failure:
        trainers.get(framework).train(spec_for(framework, **change), frame, Recorder())
    assert message in str(failure.value)


def test_a_diverging_torch_run_stops_with_the_epoch(delivery):
    reporter = Recorder()
    with pytest.raises(TrainingFailed, match=r"Training diverged at epoch \d+: the loss became (nan|inf)"):
        trainers.get("torch").train(spec_for("torch", params={"learning_rate": 1e6}), delivery, reporter)


def test_parameters_are_checked_against_the_defaults():
    torch_mlp = trainers.get("torch")
    resolved = params_resolve("PyTorch", torch_mlp.PARAMS, torch_mlp.DEFAULTS, {"epochs": 5.0})
    assert resolved["epochs"] == 5 and resolved["hidden_layers"] == torch_mlp.DEFAULTS["hidden_layers"]
    for given, message in [
        ({"epoch": 5}, "Unknown PyTorch parameter 'epoch'"),
        ({"epochs": "many"}, "'epochs' must be a number"),
        ({"epochs": 2.5}, "'epochs' must be a whole number"),
        ({"learning_rate": -1}, "'learning_rate' must be at least"),
        ({"hidden_layers": [64, "wide"]}, "'hidden_layers' must be a list of whole numbers"),
    ]:
        with pytest.raises(DomainError, match=message):
            params_resolve("PyTorch", torch_mlp.PARAMS, torch_mlp.DEFAULTS, given)
