"""Benchmark: this project's drift computation (``observability.metrics``) against Evidently's
``DataDriftPreset``, side by side on the same data.

    .venv/bin/python bench/drift.py                  # 1,000,000 rows x 30 features against 100,000; 3 repetitions
    .venv/bin/python bench/drift.py --rows 100000    # a quick check
    .venv/bin/python bench/drift.py --skip-evidently # this project only

Makes seeded synthetic data (30 numeric features: normal, log-normal and uniform ones, a
100,000-row reference and a window of ``--rows`` rows in which four features drift and one
moves by a negligible amount), writes it as .npy files to a temporary folder, and times:

- this project: the references built from the reference frame (``numeric_reference`` per
  feature, done once per model version in the portal, so reported apart), then the window:
  ``numeric_drift`` + ``status_of`` for all 30 features and ``dataset_drift``;
- Evidently: ``Report([DataDriftPreset()]).run(current, reference)`` in a subprocess run by the
  Python of Evidently's own virtual environment (``bench/.venv-evidently``, made here with
  ``python3.11 -m venv`` and a pinned ``pip install`` when missing: Evidently is no dependency of
  the portal). Only the ``run`` call is timed: the files are read and the DataFrames and
  Evidently Datasets built before the clock starts, and a small report warms the process up.

The repetitions alternate between the two (this project, Evidently, this project, ...) so that
the machine's drifts spread over both; each side's figure is the median. rows/s = window rows /
window seconds. Both run single-threaded (OMP/OpenBLAS/MKL threads = 1). The script prints a
markdown report (``--out`` also writes it to a file) with both sides' flagged features.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402

import shlex  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability import metrics  # noqa: E402

from benchkit import machine, say, venv_ensure, venv_python  # noqa: E402

EVIDENTLY_VENV = ROOT / "bench" / ".venv-evidently"
# Pinned: the newest Evidently on PyPI when this was written; it does not import with pandas 3
# (pandas.core.dtypes.common.infer_dtype_from_object is gone), hence pandas 2.
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas==2.3.3"]
SEED = 20261201
N_FEATURES = 30
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
# Drift injected into the window, in units of the feature's reference standard deviation.
SHIFTS = {"f03": 1.0, "f11": 0.5, "f27": 0.5, "f15": 0.02}  # f15: negligible, should not be flagged
SCALED = {"f19": 1.5}  # spread around the mean multiplied by this
DRIFTED = sorted([*(f for f, s in SHIFTS.items() if s >= 0.1), *SCALED])


# --- data -------------------------------------------------------------------------------------

def _draw(rng: np.random.Generator, i: int, rows: int) -> np.ndarray:
    kind = i % 3
    if kind == 0:
        return rng.normal(10.0 * i, 1.0 + i % 5, size=rows)
    if kind == 1:
        return rng.lognormal(0.5 + i / 30.0, 0.6, size=rows)
    return rng.uniform(-i, 2.0 * i + 1.0, size=rows)


def make_data(reference_rows: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(reference, current), float64 arrays of shape (rows, 30), C order (one row per record)."""
    rng = np.random.default_rng(seed)
    reference = np.empty((reference_rows, N_FEATURES))
    current = np.empty((rows, N_FEATURES))
    for i, name in enumerate(FEATURES):
        reference[:, i] = _draw(rng, i, reference_rows)
        column = _draw(rng, i, rows)
        std, mean = float(reference[:, i].std()), float(reference[:, i].mean())
        if name in SHIFTS:
            column += SHIFTS[name] * std
        if name in SCALED:
            column = mean + (column - mean) * SCALED[name]
        current[:, i] = column
    return reference, current


# --- this project -------------------------------------------------------------------------------

def ours_run(reference_columns: list[np.ndarray], current_columns: list[np.ndarray]) -> dict:
    thresholds = metrics.DEFAULT_THRESHOLDS
    began = time.perf_counter()
    references = [metrics.numeric_reference(column) for column in reference_columns]
    built = time.perf_counter()
    results, statuses = {}, {}
    for name, ref, column in zip(FEATURES, references, current_columns):
        result = metrics.numeric_drift(ref, column, min_rows=thresholds["min_rows"])
        statuses[name] = result["status"] = metrics.status_of(result, thresholds)
        results[name] = result
    dataset = metrics.dataset_drift(statuses, share=thresholds["dataset_drift_share"])
    done = time.perf_counter()
    return {"reference_s": built - began, "window_s": done - built, "results": results, "dataset_drift": dataset,
            "drifted": sorted(n for n, s in statuses.items() if s == "alert"),
            "warned": sorted(n for n, s in statuses.items() if s == "warn")}


# --- Evidently ----------------------------------------------------------------------------------

EVIDENTLY_SCRIPT = r'''
import json, sys, time
from importlib import metadata
import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder, out = sys.argv[1], sys.argv[2]
names = json.load(open(f"{folder}/features.json"))
definition = DataDefinition(numerical_columns=names)


def dataset(array):
    return Dataset.from_pandas(pd.DataFrame(array, columns=names), data_definition=definition)


reference = dataset(np.load(f"{folder}/reference.npy"))
current = dataset(np.load(f"{folder}/current.npy"))
# Warm-up on a small window: lazy imports and first-call costs stay out of the timed run.
Report([DataDriftPreset()]).run(current_data=dataset(np.load(f"{folder}/current.npy", mmap_mode="r")[:2000]),
                                reference_data=reference)

began = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
seconds = time.perf_counter() - began

columns, share = {}, None
for metric in snapshot.dict()["metrics"]:
    config, value = metric.get("config", {}), metric.get("value")
    kind = config.get("type", "")
    if kind.endswith("ValueDrift"):
        method, threshold = config.get("method", ""), config.get("threshold")
        drifted = value < threshold if "p_value" in method else value >= threshold
        columns[config["column"]] = {"method": method, "threshold": threshold, "value": value, "drift": bool(drifted)}
    elif kind.endswith("DriftedColumnsCount"):
        share = {"drift_share": config.get("drift_share"), **value}
versions = {name: metadata.version(name) for name in ("evidently", "pandas", "numpy", "scipy")}
json.dump({"seconds": seconds, "columns": columns, "count": share, "versions": versions}, open(out, "w"))
'''


def evidently_run(venv: Path, folder: Path, timeout: float) -> dict | None:
    script = folder / "evidently_run.py"
    script.write_text(EVIDENTLY_SCRIPT)
    out = folder / "evidently.json"
    out.unlink(missing_ok=True)
    try:
        subprocess.run([str(venv_python(venv)), str(script), str(folder), str(out)], check=True, timeout=timeout,
                       env={**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"})
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.read_text())


# --- report -------------------------------------------------------------------------------------

def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def render(args, command: str, began: datetime.datetime, ours: list[dict], theirs: list[dict], note: str,
           load_before: str) -> str:
    info = machine()
    ev_versions = theirs[0]["versions"] if theirs else {}
    ours_ref = statistics.median(r["reference_s"] for r in ours)
    ours_win = statistics.median(r["window_s"] for r in ours)
    ours_rate = args.rows / ours_win
    flagged_ours = ours[0]["drifted"]
    ev_win = statistics.median(r["seconds"] for r in theirs) if theirs else None
    ev_rate = args.rows / ev_win if theirs else None
    flagged_ev = sorted(c for c, v in theirs[0]["columns"].items() if v["drift"]) if theirs else []

    def ratio(rate: float) -> str:
        return f"{rate / ev_rate:.1f}×" if ev_rate else "n/a"

    lines = [
        "# Drift benchmark: this project against Evidently's DataDriftPreset", "",
        f"- command: `{command}`",
        f"- date: {began.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: `nproc` = {info['nproc']} ({info['cpu']}), {info['memory']}, Linux {info['kernel']}; "
        f"load average {load_before} before the run, {info['load']} after",
        f"- this project: Python {info['python']}, numpy {np.__version__}",
        "- Evidently (its own venv): " + (", ".join(f"{k} {v}" for k, v in ev_versions.items()) if ev_versions
                                           else (note or "not run")),
        f"- data: reference {args.reference_rows:,} rows, window {args.rows:,} rows, {N_FEATURES} numeric features "
        f"(normal, log-normal, uniform), seed {args.seed}; drift injected into {', '.join(DRIFTED)} "
        f"(f03, f11, f27 shifted by {SHIFTS['f03']:g}, {SHIFTS['f11']:g}, {SHIFTS['f27']:g} std; f19's spread "
        f"× {SCALED['f19']:g}); f15 shifted by {SHIFTS['f15']:g} std (negligible: should not be flagged)",
        f"- each figure: the median of {len(ours)} repetition(s) of this project and {len(theirs)} of Evidently, "
        "alternating; both single-threaded (OMP/OpenBLAS/MKL threads = 1)", "",
        "| computation | reference build s | window s | window rows/s | ÷ Evidently (rows/s) | flagged as drifted |",
        "|---|---:|---:|---:|---:|---|",
        f"| this project (`observability.metrics`: PSI, exact KS, JS, missing, range, status) | {ours_ref:.3f} | "
        f"{ours_win:.3f} | {fmt(ours_rate)} | **{ratio(ours_rate)}** | {', '.join(flagged_ours) or 'none'} |",
    ]
    if theirs:
        lines.append(f"| Evidently `DataDriftPreset` (`Report.run`) | (inside the run) | {ev_win:.3f} | "
                     f"{fmt(ev_rate)} | 1.0× | {', '.join(flagged_ev) or 'none'} |")
        both = ours_win + ours_ref
        lines.append(f"| this project, references rebuilt for the window | | {both:.3f} | {fmt(args.rows / both)} | "
                     f"{ratio(args.rows / both)} | |")
    lines.append("")
    if theirs:
        same = flagged_ours == flagged_ev
        lines.append(f"- same drifted features: **{'yes' if same else 'no'}** (injected: {', '.join(DRIFTED)}; this "
                     f"project: {', '.join(flagged_ours) or 'none'}; Evidently: {', '.join(flagged_ev) or 'none'})")
        count = theirs[0].get("count")
        if count:
            detected = count.get("share", 0) >= (count.get("drift_share") or 1)
            lines.append(f"- dataset drift: this project {'yes' if ours[0]['dataset_drift'] else 'no'}; Evidently "
                         f"{count.get('count', 0):g} of {N_FEATURES} columns drifted ({count.get('share', 0):.1%}; "
                         f"dataset drift from {count.get('drift_share')}: {'yes' if detected else 'no'})")
        methods = sorted({f"{v['method']} (threshold {v['threshold']})" for v in theirs[0]["columns"].values()})
        lines.append(f"- Evidently's test per column: {', '.join(methods)}")
    if ours[0]["warned"]:
        lines.append(f"- this project's warnings (not drift): {', '.join(ours[0]['warned'])}")
    if note:
        lines.append(f"- {note}")
    lines.append("- timings per repetition (s): this project's window "
                 + ", ".join(f"{r['window_s']:.3f}" for r in ours) + "; its reference build "
                 + ", ".join(f"{r['reference_s']:.3f}" for r in ours)
                 + ("; Evidently " + ", ".join(f"{r['seconds']:.3f}" for r in theirs) if theirs else ""))
    lines += ["", "Per feature (the injected ones and f15):", "",
              "| feature | injected | PSI | KS D | KS p | JS | this project | Evidently's value | Evidently |",
              "|---|---|---:|---:|---:|---:|---|---:|---|"]
    for name in sorted({*DRIFTED, "f15"}):
        r = ours[0]["results"][name]
        injected = f"shift {SHIFTS[name]:g} std" if name in SHIFTS else f"spread × {SCALED[name]:g}"
        ev = theirs[0]["columns"].get(name) if theirs else None
        ev_cells = f"{ev['value']:.4f} | {'drift' if ev['drift'] else 'no drift'}" if ev else " | "
        lines.append(f"| {name} | {injected} | {r['psi']:.4f} | {r['ks_statistic']:.4f} | {r['ks_pvalue']:.3g} | "
                     f"{r['js_distance']:.4f} | {r['status']} | {ev_cells} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the window (default 1,000,000)")
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--evidently-venv", type=Path, default=EVIDENTLY_VENV)
    parser.add_argument("--evidently-timeout", type=float, default=3600.0,
                        help="seconds one Evidently repetition (with its data loading) may take")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the data")
    args = parser.parse_args()
    command = "python bench/drift.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    began = datetime.datetime.now(datetime.timezone.utc)
    load_before = machine()["load"]

    if not args.skip_evidently:
        venv_ensure(args.evidently_venv, EVIDENTLY_REQUIREMENTS, "import evidently.presets")
    folder = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    note = ""
    try:
        say(f"data: {args.reference_rows:,} reference rows, {args.rows:,} window rows, {N_FEATURES} features")
        reference, current = make_data(args.reference_rows, args.rows, args.seed)
        (folder / "features.json").write_text(json.dumps(FEATURES))
        np.save(folder / "reference.npy", reference)
        np.save(folder / "current.npy", current)
        # Columns as the portal holds them (one array per feature), made before any clock starts.
        reference_columns = [np.ascontiguousarray(reference[:, i]) for i in range(N_FEATURES)]
        current_columns = [np.ascontiguousarray(current[:, i]) for i in range(N_FEATURES)]
        del reference, current

        ours, theirs = [], []
        for rep in range(args.repeat):
            run = ours_run(reference_columns, current_columns)
            ours.append(run)
            say(f"repetition {rep + 1}: this project {run['window_s']:.3f} s (references {run['reference_s']:.3f} s), "
                f"flags {', '.join(run['drifted'])}")
            if args.skip_evidently or note:
                continue
            result = evidently_run(args.evidently_venv, folder, args.evidently_timeout)
            if result is None:
                note = (f"Evidently did not finish one repetition on {args.rows:,} rows within "
                        f"{args.evidently_timeout:g} s; stopped there")
                say(note)
                continue
            theirs.append(result)
            say(f"repetition {rep + 1}: Evidently {result['seconds']:.3f} s")
        if args.skip_evidently:
            note = "skipped (--skip-evidently)"
        report = render(args, command, began, ours, theirs, note, load_before)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
