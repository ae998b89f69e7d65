"""Path converters shared by every app's URLs."""

from __future__ import annotations


class IdConverter:
    """A row id in a URL: digits that fit a 64-bit database integer. A longer number is no row
    (404), rather than an overflow in the database driver."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))
