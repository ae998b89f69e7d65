"""What every benchmark here shares: progress lines, the machine it ran on, and a peer's own
virtual environment (made with python3.11 -m venv and filled with pip when missing, never
committed), so a peer's dependencies never enter the portal's."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = "unknown"
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    load = "unknown"
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": memory, "python": platform.python_version(),
            "kernel": platform.release(), "load": load}


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def venv_ready(venv: Path, check: str) -> bool:
    python = venv_python(venv)
    return python.exists() and subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def venv_ensure(venv: Path, requirements: list[str], check: str) -> None:
    """The peer's venv, made and filled when ``check`` (Python code) does not run in it."""
    if venv_ready(venv, check):
        return
    if not venv_python(venv).exists():
        base = shutil.which("python3.11") or sys.executable
        say(f"making {venv} with {base} -m venv")
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        (venv / ".gitignore").write_text("*\n")  # never committed
    say(f"installing {' '.join(requirements)} into {venv} (a few minutes)")
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", *requirements], check=True)
    if not venv_ready(venv, check):
        raise SystemExit(f"{check!r} does not run in {venv}")
