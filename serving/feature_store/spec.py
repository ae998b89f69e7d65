"""A feature view as the request path sees it, and the compact binary form of its values.

A stored record is: event time (float64 seconds since the epoch), a null bitmap (one bit per
feature), the fixed-width values in feature order (float64, int64 or one byte for a bool), then
each string as a uint16 length and its UTF-8 bytes. 30 float features take 8 + 4 + 240 bytes.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

TYPES = ("float", "int", "bool", "string")
_FIXED = {"float": "d", "int": "q", "bool": "?"}
_STRING_LENGTH = struct.Struct("<H")
MAX_STRING_BYTES = 65535


class BadValue(ValueError):
    """A value that does not match its feature's type; the message says which and why."""


def coerce(value: Any, kind: str) -> Any:
    """``value`` as a feature of type ``kind``: None for missing, else a float, int, bool or
    str. Raises ``BadValue`` for a value of another type (a word in a number column, 2.5 for an
    int, 7 for a bool)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and kind in ("float", "int"):
        # A number written as text (a CSV column with a stray word is read as text throughout).
        try:
            value = float(value.strip())
        except ValueError:
            raise BadValue(f"{value!r} is not a number") from None
        if math.isnan(value):
            return None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iuf":
                return float(value)
            raise BadValue(f"{value!r} is not a number")
        return float(value)
    if kind == "int":
        if isinstance(value, bool):
            raise BadValue(f"{value!r} is not a whole number")
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise BadValue(f"{value} does not fit in 64 bits")
            return value
        if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iuf"):
            number = float(value)
            if not number.is_integer() or not -(2**63) <= number < 2**63:
                raise BadValue(f"{value!r} is not a whole number")
            return int(number)
        raise BadValue(f"{value!r} is not a whole number")
    if kind == "bool":
        if isinstance(value, bool) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "b"):
            return bool(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise BadValue(f"{value!r} is not true or false")
    if kind == "string":
        if isinstance(value, bytes):
            raise BadValue("bytes are not text")
        text = value if isinstance(value, str) else str(value)
        if len(text.encode()) > MAX_STRING_BYTES:
            raise BadValue(f"a text of {len(text.encode())} bytes; at most {MAX_STRING_BYTES}")
        return text
    raise BadValue(f"unknown feature type {kind!r}")


class Codec:
    """Packs a row of values (feature order) with its event time; unpacks it again."""

    def __init__(self, types: Iterable[str]):
        self.types = tuple(types)
        for kind in self.types:
            if kind not in TYPES:
                raise ValueError(f"unknown feature type {kind!r}; one of {', '.join(TYPES)}")
        self.n = len(self.types)
        self.bitmap_bytes = (self.n + 7) // 8
        self.fixed_at = [i for i, k in enumerate(self.types) if k != "string"]
        self.string_at = [i for i, k in enumerate(self.types) if k == "string"]
        self.head = struct.Struct("<d" + "x" * 0)
        self.fixed = struct.Struct("<" + "".join(_FIXED[self.types[i]] for i in self.fixed_at))
        self._zero = [0.0 if self.types[i] == "float" else (False if self.types[i] == "bool" else 0)
                      for i in self.fixed_at]
        self._all_fixed = not self.string_at
        self._fixed_offset = 8 + self.bitmap_bytes

    def pack(self, values: list, event_time: float) -> bytes:
        """``values`` already coerced (see ``coerce``); None is missing."""
        bitmap = 0
        fixed = self._zero[:]
        for slot, i in enumerate(self.fixed_at):
            value = values[i]
            if value is None:
                bitmap |= 1 << i
            else:
                fixed[slot] = value
        parts = [self.head.pack(event_time), bitmap.to_bytes(self.bitmap_bytes, "little"), self.fixed.pack(*fixed)]
        for i in self.string_at:
            value = values[i]
            if value is None:
                bitmap |= 1 << i
                parts.append(_STRING_LENGTH.pack(0))
            else:
                data = value.encode()
                parts.append(_STRING_LENGTH.pack(len(data)))
                parts.append(data)
        if self.string_at:
            parts[1] = bitmap.to_bytes(self.bitmap_bytes, "little")
        return b"".join(parts)

    def unpack(self, data: bytes) -> tuple[list, float]:
        """(values in feature order, None where missing; event time)."""
        event_time = self.head.unpack_from(data, 0)[0]
        bitmap = int.from_bytes(data[8:self._fixed_offset], "little")
        fixed = self.fixed.unpack_from(data, self._fixed_offset)
        if self._all_fixed:
            values = list(fixed)
        else:
            values = [None] * self.n
            for slot, i in enumerate(self.fixed_at):
                values[i] = fixed[slot]
            at = self._fixed_offset + self.fixed.size
            for i in self.string_at:
                (length,) = _STRING_LENGTH.unpack_from(data, at)
                at += 2
                values[i] = data[at:at + length].decode()
                at += length
        if bitmap:
            for i in range(self.n):
                if bitmap >> i & 1:
                    values[i] = None
        return values, event_time


@dataclass(frozen=True)
class ViewSpec:
    """What reading a view needs: its id, entity key, features (name, type), TTL and tier."""

    id: int
    name: str
    entity_key: str
    features: tuple[tuple[str, str], ...]
    ttl_seconds: int
    tier: str
    codec: Codec = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "codec", Codec(kind for _, kind in self.features))

    @property
    def feature_names(self) -> list[str]:
        return [name for name, _ in self.features]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "entity_key": self.entity_key,
                "features": [{"name": n, "type": t} for n, t in self.features],
                "ttl_seconds": self.ttl_seconds, "tier": self.tier}

    @classmethod
    def of(cls, data: dict[str, Any]) -> "ViewSpec":
        return cls(id=int(data["id"]), name=str(data["name"]), entity_key=str(data["entity_key"]),
                   features=tuple((f["name"], f["type"]) for f in data["features"]),
                   ttl_seconds=int(data.get("ttl_seconds") or 0), tier=str(data["tier"]))

    def expires_at(self, event_time: float) -> float | None:
        """When a value of this event time stops being served (None: never)."""
        return event_time + self.ttl_seconds if self.ttl_seconds else None


def entity_text(value: Any) -> str:
    """The one text form of an entity key value, the same whoever writes or reads it: 42, 42.0
    and "42" are one store."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item"):  # a numpy scalar
        return entity_text(value.item())
    return str(value)
