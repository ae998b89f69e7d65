"""Settings of the test identity provider. Everything it keeps lives in PROVIDER_DIR."""

import os
import time
from pathlib import Path

DIR = Path(os.environ["PROVIDER_DIR"])

SECRET_KEY = "test-identity-provider-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.oidc_provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DIR / "provider.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
LOGIN_URL = "/login/"
# The portal's session cookie and this one share the host 127.0.0.1 (cookies ignore ports).
SESSION_COOKIE_NAME = "provider_sessionid"
CSRF_COOKIE_NAME = "provider_csrftoken"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OIDC_USERINFO = "tests.oidc_provider.settings.userinfo"
OIDC_IDTOKEN_PROCESSING_HOOK = "tests.oidc_provider.settings.idtoken_hook"
OIDC_IDTOKEN_EXPIRE = 600
OIDC_EXTRA_SCOPE_CLAIMS = "tests.oidc_provider.claims.GroupClaims"

# People whose ID tokens this provider signs already expired, as a provider whose clock runs
# far ahead would: the portal must refuse them.
EXPIRED_TOKEN_PEOPLE = {"latecomer"}


def userinfo(claims, user):
    claims["email"] = user.email
    claims["email_verified"] = True
    claims["preferred_username"] = user.username
    claims["name"] = user.get_full_name() or user.username
    return claims


def idtoken_hook(id_token, user, **kwargs):
    if user.username in EXPIRED_TOKEN_PEOPLE:
        now = int(time.time())
        id_token["iat"], id_token["exp"] = now - 900, now - 300
    return id_token
