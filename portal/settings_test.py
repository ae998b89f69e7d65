"""Test settings: the portal's settings with a private var folder and test database.

The database is named the same in the test process and in the worker processes the tests
start, so a real Celery worker sees exactly what the test wrote.
"""

import hashlib
import os
import tempfile
from pathlib import Path

_checkout = Path(__file__).resolve().parent.parent
if "PORTAL_VAR_DIR" not in os.environ:
    # One folder per test run (worker processes inherit it), so two runs never share a
    # database or a Redis; the root conftest removes it when the run ends.
    os.environ["PORTAL_VAR_DIR"] = str(
        Path(tempfile.gettempdir()) / f"portal-test-{hashlib.sha1(str(_checkout).encode()).hexdigest()[:8]}-{os.getpid()}"
    )
    os.environ["PORTAL_TEST_VAR_DIR_OWNED"] = os.environ["PORTAL_VAR_DIR"]

from portal.settings import *  # noqa: E402,F401,F403
from portal.settings import DATABASES, VAR_DIR  # noqa: E402

_db = DATABASES["default"]
_db.setdefault("TEST", {})
if _db["ENGINE"].endswith("sqlite3"):
    _db["NAME"] = VAR_DIR / "test-portal.sqlite3"
    _db["TEST"]["NAME"] = str(_db["NAME"])
else:
    _name = _db["NAME"] if str(_db["NAME"]).startswith("test_") else f"test_{_db['NAME']}"
    _db["NAME"] = _db["TEST"]["NAME"] = _name

# The test database is the run's own: flush may erase its audit log between transactional tests.
AUDIT_LOG_FLUSHABLE = True
# ...and even with DATABASE_URL set it is no shared database: the demo data may go in.
PORTAL_DEMO = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CACHES["default"]["KEY_PREFIX"] = "portal-test"  # noqa: F405
