"""The compiled fast path for LightGBM: the booster compiled to a shared library with treelite
and tl2cgen (gcc), cached beside the version.

It is used only when it gives the booster's numbers on a probe set built at load; any failure
(no compiler, an unsupported model, a mismatch) leaves the native booster serving and says why
in the version's notes.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

LIBRARY = "fast_path.so"
TOLERANCE = 1e-9


class CompiledPredictor:
    framework = "lightgbm-compiled"

    def __init__(self, library: Path, n_out: int):
        import tl2cgen

        self._tl2cgen = tl2cgen
        self._predictor = tl2cgen.Predictor(str(library), nthread=1)
        self._n_out = n_out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        matrix = self._tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=np.float64), dtype="float64")
        out = np.asarray(self._predictor.predict(matrix), dtype=np.float64)
        return out.reshape(len(x)) if self._n_out == 1 else out.reshape(len(x), self._n_out)


def library_build(booster, folder: Path) -> Path:
    """Compile (once) and return the shared library's path."""
    import tl2cgen
    import treelite

    library = Path(folder) / LIBRARY
    if library.exists():
        return library
    with tempfile.TemporaryDirectory(dir=folder) as work:
        text = Path(work) / "booster.txt"
        booster.save_model(str(text))
        model = treelite.frontend.load_lightgbm_model(str(text))
        staged = Path(work) / LIBRARY
        tl2cgen.export_lib(model, toolchain="gcc", libpath=str(staged), params={"parallel_comp": 8}, nthread=2)
        staged.rename(library)
    return library


def probe_rows(encoder, n: int = 256, seed: int = 0) -> np.ndarray:
    """Encoded rows that exercise every category, missing values and a spread of numbers."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row = []
        for name in encoder.features:
            if name in encoder.preprocessing["categories"]:
                cats = encoder.preprocessing["categories"][name]
                row.append(None if i % 7 == 0 or not cats else cats[i % len(cats)])
            else:
                row.append(None if i % 11 == 0 else float(rng.normal(0, 1) * 10 ** rng.integers(0, 3)))
        rows.append(row)
    return encoder.encode_records(rows)


class FastPathMismatch(Exception):
    """The compiled library gives other numbers than the booster it was built from."""


def fast_predictor(native, folder: Path, encoder, notes: list[str], *, refuse_mismatch: bool = False) -> Callable | None:
    """The compiled predictor, or None (the booster serves). With ``refuse_mismatch`` (a replica
    loading a version whose deploy proved its fast path equal), a library that disagrees raises:
    what would serve is no longer what was proven, so the revision must not go live here."""
    try:
        library = library_build(native.booster, folder)
        n_out = native.booster.num_model_per_iteration()
        compiled = CompiledPredictor(library, n_out)
        probe = probe_rows(encoder)
        diff = float(np.max(np.abs(compiled(probe) - native(probe))))
    except Exception as exc:  # no compiler or an unsupported model: the booster still serves
        logger.warning("fast path unavailable: %s", exc, exc_info=True)
        notes.append(f"fast path unavailable: {exc}")
        return None
    if not diff <= TOLERANCE:
        if refuse_mismatch:
            raise FastPathMismatch(f"the compiled fast path in {library} disagrees with the booster by {diff:g}; "
                                   "remove it to have it rebuilt")
        notes.append(f"fast path disagrees with the booster by {diff:g}; serving the booster")
        return None
    notes.append("fast path compiled and equal to the booster")
    return compiled
