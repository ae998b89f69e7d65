"""Masks secrets in text bound for people: pages, job logs and errors, the audit log, error reports.

Connection URLs reach exception messages (a database, Redis, MLflow or SMTP server that does not
answer names itself, password included), and from there a job's stored error, its log and the
audit event of its end, which can never be edited afterwards. What is masked: the password of a
``scheme://user:password@host`` URL, and the value of token-like parameters (``?token=...``,
``&X-Amz-Signature=...``, libpq's ``password=...``). Hosts, ports and paths stay: they are what
a person needs to mend the connection.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

MASK = "***"

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s'\"<>]*):(?P<password>[^\s/?#'\"<>]+)@")
_SECRET_PARAM = re.compile(
    r"(?i)(?P<name>\b(?:password|passwd|pwd|pass|token|access_token|refresh_token|id_token|auth|authorization|"
    r"api_key|apikey|secret|client_secret|sig|signature|x-amz-signature|x-amz-security-token|x-amz-credential|"
    r"x-goog-signature|x-goog-credential)=)(?P<value>[^&\s'\"<>;,]+)"
)


def redact(text: str) -> str:
    """``text`` with URL passwords and token-like parameter values replaced by ``***``."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", str(text))
    return _SECRET_PARAM.sub(lambda m: f"{m['name']}{MASK}", text)


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error pages and error emails, with the passwords inside URL settings masked too
    (``DATABASE_URL``, ``REDIS_URL``, ``EMAIL_URL`` match none of Django's hidden names)."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        return redact(value) if isinstance(value, str) else value
