"""What each endpoint serves right now, as an immutable table swapped whole.

A request reads ``runtime.table`` once and keeps that reference, so a swap never changes a
model under an in-flight request, and the old models are freed when the last one finishes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import orjson

from serving.runtime.features import FeaturePlan
from serving.runtime.loader import LoadedVersion


@dataclass(frozen=True, eq=False)
class Endpoint:
    name: str
    revision: int
    primary: LoadedVersion | None
    canary: LoadedVersion | None = None
    canary_share: int = 0
    shadows: tuple[LoadedVersion, ...] = ()
    # Set only when the endpoint names feature views: requests then carry entity keys.
    features: FeaturePlan | None = None
    views: bytes = b"[]"  # the manifest's views, as compared to see whether they changed

    def split(self, instances: list) -> list[bool] | None:
        """Per instance, whether the canary answers it; None when the primary answers all.

        The choice is a stable hash of the instance's canonical JSON, so the same instance
        always gets the same version, whichever replica or batch it comes in.
        """
        if self.canary is None or self.canary_share <= 0:
            return None
        share = self.canary_share
        return [zlib.crc32(orjson.dumps(instance, option=orjson.OPT_SORT_KEYS)) % 100 < share
                for instance in instances]


EMPTY: Mapping[str, Endpoint] = MappingProxyType({})


def table_of(endpoints: dict[str, Endpoint]) -> Mapping[str, Endpoint]:
    return MappingProxyType(dict(endpoints))
