"""Reading tabular files and describing them: format, schema, missing rates, preview.

No database here: ``services.dataset_register`` stores what these functions find.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portal.errors import DomainError

EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
PREVIEW_ROWS = 10
SAMPLE_VALUES = 5
CHUNK = 1024 * 1024


def format_for(filename: str) -> str:
    fmt = EXTENSIONS.get(Path(filename).suffix.lower())
    if fmt is None:
        raise DomainError(
            f"{Path(filename).name or 'This file'} is not a CSV (.csv) or Parquet (.parquet) file; "
            "only those can be registered.",
            field="file",
        )
    return fmt


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def too_large(size: int, limit: int) -> DomainError:
    return DomainError(
        f"The file is {size_text(size)}; datasets can be at most {size_text(limit)}. "
        "Sample it down, or ask an admin to raise DATASET_MAX_BYTES.",
        field="file", status=413,
    )


# Room in a multipart body for its framing and the form's other fields beside the file.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def upload_body_check(meta: dict, limit: int) -> None:
    """Refuse an upload whose declared body (``Content-Length``) cannot hold a file within ``limit``.

    Adapters call this before reading the body, so an oversized upload is refused before any
    of it is written to disk.
    """
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        raise DomainError("The upload's Content-Length is not a number.", field="file") from None
    if declared > limit + UPLOAD_OVERHEAD_BYTES:
        raise DomainError(
            f"The upload is {size_text(declared)}; datasets can be at most {size_text(limit)} "
            "(DATASET_MAX_BYTES). Sample it down, or ask an admin to raise DATASET_MAX_BYTES.",
            field="file", status=413,
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileLimits:
    """How large a table the portal reads: rows, columns, and bytes once decompressed."""

    max_rows: int
    max_columns: int
    max_uncompressed_bytes: int


def _too_many(what: str, found: str, limit: int, setting: str) -> DomainError:
    return DomainError(
        f"The file has {found} {what}; datasets can have at most {limit:,} {what} ({setting}). "
        f"Sample it down, or ask an admin to raise {setting}.",
        field="file", status=413,
    )


def parquet_check(path: Path, limits: FileLimits) -> None:
    """Refuse a Parquet file past the limits from its footer alone, before any data is read."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow reports a broken footer with many exception types
        raise DomainError(f"The file could not be read as Parquet: {_first_line(exc)}", field="file") from None
    if metadata.num_columns > limits.max_columns:
        raise _too_many("columns", f"{metadata.num_columns:,}", limits.max_columns, "DATASET_MAX_COLUMNS")
    if metadata.num_rows > limits.max_rows:
        raise _too_many("rows", f"{metadata.num_rows:,}", limits.max_rows, "DATASET_MAX_ROWS")
    uncompressed = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if uncompressed > limits.max_uncompressed_bytes:
        raise DomainError(
            f"The file holds {size_text(uncompressed)} once decompressed; datasets can hold at most "
            f"{size_text(limits.max_uncompressed_bytes)} (DATASET_MAX_UNCOMPRESSED_BYTES). "
            "Sample it down, or ask an admin to raise DATASET_MAX_UNCOMPRESSED_BYTES.",
            field="file", status=413,
        )


def csv_header_check(path: Path, limits: FileLimits) -> None:
    """Refuse a CSV file whose header names more columns than the limit, reading the header only."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise DomainError("The file is not text in UTF-8, so it cannot be read as CSV.", field="file") from None
    except csv.Error:
        return  # pandas says what is wrong with it, in its words
    if len(header) > limits.max_columns:
        raise _too_many("columns", f"{len(header):,}", limits.max_columns, "DATASET_MAX_COLUMNS")


def read_frame(path: Path, fmt: str, *, limits: FileLimits | None = None) -> pd.DataFrame:
    """The file as a DataFrame, or a DomainError that says what is wrong with it.

    With ``limits``, a file past them is refused before it is read whole: a Parquet file from
    its footer, a CSV file from its header and by reading at most one row past the row limit.
    """
    if fmt == "csv":
        if limits is not None:
            csv_header_check(path, limits)
        try:
            frame = pd.read_csv(path, low_memory=False, nrows=limits.max_rows + 1 if limits is not None else None)
        except pd.errors.EmptyDataError:
            raise DomainError("The file is empty: it has no header row and no columns.", field="file") from None
        except UnicodeDecodeError:
            raise DomainError("The file is not text in UTF-8, so it cannot be read as CSV.", field="file") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise DomainError(f"The file could not be read as CSV: {_first_line(exc)}", field="file") from None
        if limits is not None and len(frame) > limits.max_rows:
            raise _too_many("rows", f"more than {limits.max_rows:,}", limits.max_rows, "DATASET_MAX_ROWS")
    else:
        if limits is not None:
            parquet_check(path, limits)
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow reports a broken file with many exception types
            raise DomainError(f"The file could not be read as Parquet: {_first_line(exc)}", field="file") from None
    if frame.shape[1] == 0:
        raise DomainError("The file has no columns.", field="file")
    if len(frame) == 0:
        shown = ", ".join(map(str, list(frame.columns)[:8]))
        raise DomainError(f"The file has a header ({shown}) but no rows.", field="file")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:300]


def column_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def schema_infer(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = len(frame)
    schema = []
    for name in frame.columns:
        series = frame[name]
        present = series.dropna()
        schema.append({
            "name": name,
            "dtype": str(series.dtype),
            "kind": column_kind(series),
            "missing_rate": round(float(1 - len(present) / rows), 6) if rows else 0.0,
            "unique_count": int(present.nunique()),
            "samples": [json_safe(v) for v in pd.unique(present)[:SAMPLE_VALUES]],
        })
    return schema


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    head = frame.head(rows)
    return {"columns": list(head.columns), "rows": [[json_safe(v) for v in row] for row in head.itertuples(index=False)]}


def json_safe(value: Any) -> Any:
    """A value as JSON can hold it: missing -> None, numpy scalars -> Python, times -> ISO text."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def describe_file(path: Path, fmt: str, limits: FileLimits) -> dict[str, Any]:
    """What the portal keeps of a readable file: its rows, schema and preview (JSON as it is)."""
    frame = read_frame(path, fmt, limits=limits)
    return {"rows": len(frame), "schema": schema_infer(frame), "preview": preview(frame)}
