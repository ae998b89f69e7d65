"""The one limit on free text a person writes (proposal fields, comments, notes, reasons).

Models keep such text in unbounded ``TextField``s; the bound is checked where the text comes
in: a form or an API serializer (``text_max_length``), or the service when a view hands it
the raw value (``text_check``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator

from portal.errors import DomainError


def text_max_chars() -> int:
    return settings.TEXT_MAX_CHARS


def _too_long(length: int) -> str:
    return (f"This text is {length:,} characters; it can be at most {text_max_chars():,} characters "
            "(TEXT_MAX_CHARS). Shorten it, or link to a longer document.")


class TextMaxLengthValidator(MaxLengthValidator):
    """``MaxLengthValidator`` with the limit read when validating, so a changed setting applies."""

    def __init__(self):
        super().__init__(text_max_chars)

    def __call__(self, value):
        from django.core.exceptions import ValidationError

        if value is not None and len(value) > text_max_chars():
            raise ValidationError(_too_long(len(value)), code="max_length")


# For ``validators=[...]`` on a form field or a DRF serializer field.
text_max_length = TextMaxLengthValidator()


def text_check(value: str | None, *, field: str) -> str:
    """``value`` unchanged, or a DomainError naming ``field`` and TEXT_MAX_CHARS."""
    if value is not None and len(value) > text_max_chars():
        raise DomainError(_too_long(len(value)), field=field)
    return value or ""
