"""Reading a dataset file in a process of its own, under a memory limit.

A worker reads an uploaded file with ``parse``, which runs this module as a child process
(``python -m registry.dataset_parse FILE FORMAT ...``): a file that needs more memory than
DATASET_PARSE_MEMORY_MB ends that process, not the worker. It is a plain subprocess, not a
multiprocessing one: Celery's pool processes are daemonic and may not start those.

The child sets its own address-space limit before importing pandas, reads the file with
``registry.datasets`` (with its row, column and size limits) and prints one JSON object:
``{"rows", "schema", "preview"}``, or ``{"refused": message, "status": code}`` for a file the
portal refuses. It exits with ``EXIT_MEMORY`` when it runs out of memory. No Django here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

EXIT_MEMORY = 3
POLL_SECONDS = 0.5
ROOT = Path(__file__).resolve().parent.parent
# One thread for the numeric libraries: each thread reserves address space the limit counts.
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ARROW_NUM_THREADS": "1"}


def _memory_error(memory_mb: int):
    from portal.errors import DomainError

    return DomainError(
        f"Reading the file needed more memory than the {memory_mb:,} MB a dataset check may use "
        "(DATASET_PARSE_MEMORY_MB). Sample it down, or ask an admin to raise DATASET_PARSE_MEMORY_MB.",
        field="file", status=413,
    )


def parse(path: Path, fmt: str, *, limits, memory_mb: int, poll: Callable[[], None] | None = None,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Read ``path`` in a child process limited to ``memory_mb``: its rows, schema and preview.

    Raises the DomainError the child reports (the same words ``read_frame`` uses), or one naming
    DATASET_PARSE_MEMORY_MB when the child ran out of memory or died. ``poll`` is called about
    twice a second while the child runs (a job's cancellation check); whatever it raises ends the child.
    """
    from portal.errors import DomainError

    command = [sys.executable, "-m", "registry.dataset_parse", str(path), fmt, "--memory-mb", str(memory_mb),
               "--max-rows", str(limits.max_rows), "--max-columns", str(limits.max_columns),
               "--max-uncompressed-bytes", str(limits.max_uncompressed_bytes)]
    env = {**os.environ, **CHILD_ENV}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            while True:
                try:
                    child.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if poll is not None:
                        poll()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        out.seek(0)
        err.seek(0)
        output = out.read().decode("utf-8", errors="replace")
        errors = err.read().decode("utf-8", errors="replace").strip()
    if child.returncode != 0:
        if log is not None and errors:
            log(f"The reading process ended with status {child.returncode}:\n{errors[-2000:]}")
        raise _memory_error(memory_mb)
    try:
        found = json.loads(output)
    except ValueError:
        raise _memory_error(memory_mb) from None
    if "refused" in found:
        raise DomainError(found["refused"], field="file", status=found.get("status") or 400)
    return found


def _limit_memory(memory_mb: int) -> None:
    import resource

    if memory_mb <= 0:
        return
    wanted = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry.dataset_parse")
    parser.add_argument("file")
    parser.add_argument("format", choices=["csv", "parquet"])
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--max-rows", type=int, required=True)
    parser.add_argument("--max-columns", type=int, required=True)
    parser.add_argument("--max-uncompressed-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    _limit_memory(args.memory_mb)
    try:
        from portal.errors import DomainError
        from registry import datasets

        limits = datasets.FileLimits(max_rows=args.max_rows, max_columns=args.max_columns,
                                     max_uncompressed_bytes=args.max_uncompressed_bytes)
        try:
            found = datasets.describe_file(Path(args.file), args.format, limits)
        except DomainError as exc:
            found = {"refused": exc.message, "status": exc.status}
        text = json.dumps(found)
    except MemoryError:
        return EXIT_MEMORY
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
