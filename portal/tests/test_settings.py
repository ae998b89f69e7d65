"""Production settings: a missing secret stops the start, and the deploy checks pass clean.

Each test runs Django in a fresh process: settings are read once per process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables a developer's shell, CI or other test fixtures (the browser tests allow async-unsafe
# ORM calls) may set that would change what is being checked.
CLEARED = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT",
           "SECURE_HSTS_SECONDS", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path / "var"), **values)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    production = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(60)[:60], "ALLOWED_HOSTS": "portal.example.com"}
    return _env(tmp_path, **{**production, **values})


@pytest.fixture(autouse=True)
def _no_local_env_file():
    if (ROOT / ".env").exists():
        pytest.skip(".env in the checkout would feed values to the settings under test")


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run(["-c", "import django; django.setup()"], _env(tmp_path, DEBUG="false"))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_starts_once_a_secret_key_is_given(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"

    result = _run(["-c", code], _production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_the_deploy_checks_pass_without_warnings(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_checks_catch_a_weak_secret_key(tmp_path):
    env = _production_env(tmp_path, SECRET_KEY="short")

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr
