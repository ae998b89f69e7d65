"""Passwords and signed links are masked; what locates the failing system stays readable."""

from __future__ import annotations

import pytest

from portal.redact import ExceptionReporterFilter, redact


@pytest.mark.parametrize("text, expected", [
    ("connection to postgres://portal:s3cr@t@db.internal:5432/portal failed",
     "connection to postgres://portal:***@db.internal:5432/portal failed"),
    ("Error connecting to 'redis://:hunter2@redis.internal:6379/0'.", "Error connecting to 'redis://:***@redis.internal:6379/0'."),
    ("smtp+tls://portal:secret@smtp.example.com:587", "smtp+tls://portal:***@smtp.example.com:587"),
    ("GET https://b.example.com/m.pkl?X-Amz-Signature=abc123&X-Amz-Credential=AKIA1&part=2",
     "GET https://b.example.com/m.pkl?X-Amz-Signature=***&X-Amz-Credential=***&part=2"),
    ("https://mlflow.internal/api?token=t0k3n", "https://mlflow.internal/api?token=***"),
    ("host=db.internal password=secret user=portal", "host=db.internal password=*** user=portal"),
    ("postgres://postgres@127.0.0.1:5432/portal", "postgres://postgres@127.0.0.1:5432/portal"),
    ("no such column 'price'", "no such column 'price'"),
])
def test_redact_masks_only_the_secret(text, expected):
    assert redact(text) == expected


def test_error_pages_mask_the_password_of_url_settings(settings):
    settings.DATABASE_URL = "postgres://portal:hunter2@db.internal:5432/portal"

    shown = ExceptionReporterFilter().get_safe_settings()

    assert shown["DATABASE_URL"] == "postgres://portal:***@db.internal:5432/portal"
