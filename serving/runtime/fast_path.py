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
    """Small batches call the library's own ``predict(union Entry* row, int pred_margin, out*)``
    once per row through ctypes (about 10 us for a row); tl2cgen's DMatrix and batch predictor
    cost about 50 us of wrapping per call, so they only take batches of ``ROWS_DIRECT`` rows and
    more, where their C loop wins. Both give the same numbers (the load-time probe checks them)."""

    framework = "lightgbm-compiled"
    ROWS_DIRECT = 32

    def __init__(self, library: Path, n_out: int):
        import ctypes

        import tl2cgen

        self._tl2cgen = tl2cgen
        self._predictor = tl2cgen.Predictor(str(library), nthread=1)
        self._n_out = n_out
        lib = ctypes.CDLL(str(library))
        lib.get_threshold_type.restype = ctypes.c_char_p
        lib.get_leaf_output_type.restype = ctypes.c_char_p
        # union Entry {int missing; <threshold type> fvalue; int qvalue;}: a row is an array of
        # the threshold type whose first 4 bytes read -1 where the value is missing.
        self._entry = np.float32 if lib.get_threshold_type() == b"float32" else np.float64
        self._leaf = np.float32 if lib.get_leaf_output_type() == b"float32" else np.float64
        targets = lib.get_num_target()
        classes = (ctypes.c_int32 * targets)()
        lib.get_num_class(classes)
        self._width = targets * max(classes)
        self._row = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)(("predict", lib))
        self._lib = lib  # keeps the library loaded while the function pointer lives

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n >= self.ROWS_DIRECT:
            matrix = self._tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=np.float64), dtype="float64")
            out = np.asarray(self._predictor.predict(matrix), dtype=np.float64)
        else:
            rows = np.array(x, dtype=self._entry, order="C")
            missing = np.isnan(rows)
            if missing.any():
                rows.view(np.int32).reshape(*rows.shape, -1)[..., 0][missing] = -1  # the first 4 bytes
            out = np.zeros((n, self._width), dtype=self._leaf)
            row, data, result = self._row, rows.ctypes.data, out.ctypes.data
            row_step, out_step = rows.strides[0], out.strides[0]
            for i in range(n):
                row(data + i * row_step, 0, result + i * out_step)
            out = out.astype(np.float64, copy=False)
        return out.reshape(n) if self._n_out == 1 else out.reshape(n, self._n_out)


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
