"""A source dataset's columns as a feature view reads them: event times, entity keys and typed
values, with the rows that do not fit named. Both the materialization and the training sets read
sources through these, so a value is judged the same way online and offline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.feature_store.spec import MAX_STRING_BYTES, BadValue, coerce, entity_text


def utc_times(series: pd.Series) -> pd.Series:
    """A column as UTC timestamps (nanoseconds); NaT where a value is no date or time. Numbers
    are seconds since the epoch, the unit event times have in the online store; times without a
    zone are taken as UTC."""
    if pd.api.types.is_bool_dtype(series):
        times = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    elif pd.api.types.is_datetime64_any_dtype(series):
        times = pd.to_datetime(series, utc=True)
    elif pd.api.types.is_numeric_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce").astype("float64")
        # Beyond what a nanosecond timestamp holds: no time at all rather than an overflow.
        numbers = numbers.where(numbers.abs() < 9.2e9)
        times = pd.to_datetime(numbers, unit="s", utc=True, errors="coerce")
    else:
        text = series.astype(object).where(series.notna(), None)
        times = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    return times.astype("datetime64[ns, UTC]")


def entity_keys(series: pd.Series) -> pd.Series:
    """Key values in their one text form (``spec.entity_text``: 42, 42.0 and "42" match); None
    where missing."""
    present = series.notna()
    dtype = series.dtype
    text = None
    if pd.api.types.is_integer_dtype(dtype):
        text = series.astype("Int64").astype(str)
    elif pd.api.types.is_float_dtype(dtype):
        numbers = series[present]
        if ((numbers % 1 == 0) & (numbers.abs() < 2**53)).all():
            text = series.astype("Int64").astype(str)
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        text = series
    if text is None:
        text = pd.Series([entity_text(v) if p else None for v, p in zip(series.tolist(), present.tolist())],
                         index=series.index, dtype=object)
    return text.astype(object).where(present, None)


_NULLABLE = {"float": "float64", "int": "Int64", "bool": "boolean", "string": object}


def coerce_column(series: pd.Series, kind: str, *, examples: int = 1) -> tuple[pd.Series, np.ndarray, list[tuple[int, str]]]:
    """A source column as a feature of type ``kind``: its values (missing as NA), which rows hold
    a value of another type, and the first ``examples`` of those with the reason (``spec.coerce``'s
    words). Columns whose dtype already fits are converted at once; others value by value."""
    dtype = series.dtype
    fine = np.zeros(len(series), dtype=bool)
    if kind == "float" and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return series.astype("float64").reset_index(drop=True), fine, []
    if kind == "int" and pd.api.types.is_integer_dtype(dtype):
        return series.astype("Int64").reset_index(drop=True), fine, []
    if kind == "bool" and pd.api.types.is_bool_dtype(dtype):
        return series.astype("boolean").reset_index(drop=True), fine, []
    if (kind == "string" and pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)
            and not (series.str.len() > MAX_STRING_BYTES // 4).any()):
        return series.astype(object).where(series.notna(), None).reset_index(drop=True), fine, []
    values = series.tolist()
    missing = series.isna().to_numpy()
    coerced: list = [None] * len(values)
    bad = fine.copy()
    found: list[tuple[int, str]] = []
    for i, value in enumerate(values):
        if missing[i]:
            continue
        try:
            coerced[i] = coerce(value, kind)
        except BadValue as exc:
            bad[i] = True
            if len(found) < examples:
                found.append((i, str(exc)))
    return pd.Series(coerced, dtype=_NULLABLE[kind]), bad, found


def python_values(values: pd.Series) -> list:
    """A coerced column as Python values, None where missing (what the codec packs)."""
    return values.astype(object).where(values.notna(), None).tolist()


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """UTC timestamps as seconds since the epoch, NaN for NaT."""
    seconds = (times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="float64", na_value=np.nan)
