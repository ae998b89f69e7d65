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
           "SECURE_HSTS_SECONDS", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "OIDC_ISSUER",
           "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_AUTHORIZATION_ENDPOINT", "OIDC_TOKEN_ENDPOINT",
           "OIDC_USERINFO_ENDPOINT", "OIDC_JWKS_URI", "PASSWORD_LOGIN", "SESSION_IDLE_MINUTES")


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


_SIGN_IN_SETTINGS = ("import django; django.setup(); from django.conf import settings as s; "
                     "print(s.SESSION_COOKIE_AGE, s.OIDC_ENABLED, ' '.join(s.AUTHENTICATION_BACKENDS))")


def test_by_default_people_sign_in_with_a_password_for_eight_idle_hours(tmp_path):
    result = _run(["-c", _SIGN_IN_SETTINGS], _env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(8 * 3600), "False", "portal.auth.ThrottleBackend",
                                     "django.contrib.auth.backends.ModelBackend"]


def test_single_sign_on_from_the_environment(tmp_path):
    env = _env(tmp_path, OIDC_ISSUER="https://id.example.com/", OIDC_CLIENT_ID="portal", OIDC_CLIENT_SECRET="s3cret",
               PASSWORD_LOGIN="false", SESSION_IDLE_MINUTES="30")

    result = _run(["-c", _SIGN_IN_SETTINGS], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1800", "True", "portal.auth.ThrottleBackend",
                                     "portal.auth.SuperuserPasswordBackend", "portal.oidc.OIDCBackend"]


@pytest.mark.parametrize(("values", "message"), [
    ({"OIDC_CLIENT_ID": "portal", "OIDC_CLIENT_SECRET": "s3cret"}, "OIDC_CLIENT_ID is set: set OIDC_ISSUER too"),
    ({"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "portal"}, "OIDC_CLIENT_SECRET is not"),
    ({"OIDC_ISSUER": "https://id.example.com"}, "OIDC_ISSUER is set but OIDC_CLIENT_ID is not"),
    ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES must be at least 1"),
])
def test_half_configured_sign_in_refuses_to_start(tmp_path, values, message):
    result = _run(["-c", "import django; django.setup()"], _env(tmp_path, **values))

    assert result.returncode != 0
    assert message in result.stderr
