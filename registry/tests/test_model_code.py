"""The self-contained model's encoder: the numbers of ``encode`` from every input shape, and
readable errors naming instance and field. No database, no MLflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from registry import demo_data
from registry.model_code import FastEncoder, InvalidInstances
from registry.trainers.base import encode, training_categories

NUMERIC = ["distance_km", "items", "hour", "weekday", "courier_load", "raining"]


def preprocessing_for(encoding: str, frame: pd.DataFrame) -> dict:
    base = {"features": [*NUMERIC[:3], "zone", *NUMERIC[3:]], "numeric": NUMERIC, "encoding": encoding,
            "categories": training_categories(frame, ["zone"])}
    if encoding == "one_hot":
        base.update(dtype="float32", fill={name: float(frame[name].mean()) for name in NUMERIC})
    return base


@pytest.fixture(scope="module")
def rows():
    frame = demo_data.delivery_times(300, seed=3).drop(columns="minutes")
    frame.loc[[0, 5, 9], "courier_load"] = np.nan
    frame["zone"] = frame["zone"].astype(object)
    frame.loc[[1, 7], "zone"] = None
    frame.loc[[2, 8], "zone"] = "moon"  # never seen in training
    return frame


@pytest.mark.parametrize("encoding", ["codes", "one_hot"])
def test_the_fast_encoder_gives_the_numbers_of_encode_from_frames_dicts_and_lists(rows, encoding):
    preprocessing = preprocessing_for(encoding, demo_data.delivery_times(500, seed=0))
    expected = encode(rows, preprocessing).to_numpy()
    encoder = FastEncoder(preprocessing)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    in_order = [[r[f] for f in encoder.features] for r in records]
    for got in (encoder.encode_frame(rows), encoder.encode_records(records), encoder.encode_records(in_order)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    # Numbers as text read as pd.to_numeric reads them; a missing value is filled as in training.
    text = [{**records[0], "distance_km": "3.5", "items": " 2 ", "courier_load": ""}]
    numbers = [{**records[0], "distance_km": 3.5, "items": 2, "courier_load": None}]
    np.testing.assert_array_equal(encoder.encode_records(text), encoder.encode_records(numbers))


def test_bad_instances_are_reported_by_instance_and_field(rows):
    encoder = FastEncoder(preprocessing_for("codes", demo_data.delivery_times(500, seed=0)))
    good = rows.astype(object).where(rows.notna(), None).to_dict("records")[0]
    missing = {k: v for k, v in good.items() if k != "hour"}
    with pytest.raises(InvalidInstances) as bad:
        encoder.encode_records([good, missing, {**good, "tip": 3}, {**good, "distance_km": "far", "items": {"a": 1}},
                                {**good, "zone": ["a"]}, [1, 2], "text"])
    found = {(i, field) for i, field, _ in bad.value.errors}
    assert found == {(1, "hour"), (2, "tip"), (3, "distance_km"), (3, "items"), (4, "zone"), (5, "*"), (6, "*")}
    message = str(bad.value)
    assert "instance 1, 'hour': missing feature" in message and "instance 2, 'tip': unknown feature" in message
    assert "expected a number, got the text 'far'" in message
    assert bad.value.as_details()[0] == {"instance": 1, "field": "hour", "message": "missing feature (send null for a missing value)"}
    # Booleans are numbers for numeric features, as training took them.
    np.testing.assert_array_equal(encoder.encode_records([{**good, "raining": True}])[0],
                                  encoder.encode_records([{**good, "raining": 1}])[0])
