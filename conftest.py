"""Shared fixtures: the embedded Redis server and real Celery worker processes."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import tests.jobkinds  # noqa: F401  (registers the runtime's test job kinds)

ROOT = Path(__file__).resolve().parent
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


@pytest.fixture(scope="session", autouse=True)
def _private_var_dir():
    """Remove the run's own var folder at the end (not one named with PORTAL_VAR_DIR)."""
    yield
    owned = os.environ.get("PORTAL_TEST_VAR_DIR_OWNED")
    if owned and owned == os.environ.get("PORTAL_VAR_DIR"):
        shutil.rmtree(owned, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def redis_server(_private_var_dir):
    """A real Redis: the embedded one on a private socket, or REDIS_URL's (flushed)."""
    from django.conf import settings

    import redis as redis_lib

    if settings.EMBEDDED_REDIS:
        from portal import embedded_redis

        socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
        proc = None
        if not embedded_redis.is_up(socket_path):
            proc = embedded_redis.start(socket_path)
        client = redis_lib.Redis(unix_socket_path=str(socket_path))
        client.flushall()
        yield client
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    else:
        client = redis_lib.Redis.from_url(settings.REDIS_URL)
        client.flushdb()
        # The serving tier's own logical database (prediction log, replica reports) too: a
        # previous run's entries would be drained into this run's database.
        redis_lib.Redis.from_url(settings.SERVING_REDIS_URL).flushdb()
        redis_lib.Redis.from_url(settings.FEATURE_STORE_REDIS_URL).flushdb()
        yield client


@pytest.fixture(autouse=True)
def _clear_cache(redis_server):
    from django.conf import settings
    from django.core.cache import cache

    import redis as redis_lib

    cache.clear()
    # Feature views' ids start again in every test's database; their online values must too.
    redis_lib.Redis.from_url(settings.FEATURE_STORE_REDIS_URL).flushdb()


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, name: str, log_path: Path):
        self.proc = proc
        self.name = name
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """Kill the worker and its pool at once, as a crashed machine would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _die_with_parent() -> None:
    """Runs in the worker's child process before exec: SIGKILL it when the test process dies.

    A worker outliving a killed test run would go on consuming the next run's queues (the
    test Redis socket is the same for every run of a checkout) and steal its jobs.
    """
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def start_worker(tmp_path: Path, *, queues: str = "default,training,deploy,monitoring", env: dict | None = None) -> WorkerProcess:
    from portal.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    log_path = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    cmd = [
        sys.executable, "-m", "celery", "-A", "portal", "worker",
        "--queues", queues, "--concurrency", "2", "--pool", "prefork",
        "--include", "tests.jobkinds", "--hostname", name,
        "--without-mingle", "--without-gossip", "--loglevel", "INFO",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    worker = WorkerProcess(proc, name, log_path)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{worker.log()}")
            if " ready." in worker.log():
                replies = app.control.inspect(timeout=1).ping() or {}
                if any(k.startswith(name.split("@")[0]) for k in replies):
                    return worker
            time.sleep(0.3)
        raise RuntimeError(f"celery worker did not become ready:\n{worker.log()}")
    except BaseException:
        worker.stop()
        raise


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real `celery worker` process consuming every queue, on the test database."""
    worker = start_worker(tmp_path)
    yield worker
    worker.stop()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
