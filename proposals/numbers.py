"""Numbers as people type them: "20,000", "20 000", "300k", "1.5m", "$300k", "2.5M", "1e6".

A pure function, no Django: the proposal form's number fields use it, and so can anything else
that takes a number from a person. A refusal names the field and says what would work.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Suffixes people use for thousands, millions and billions; case does not matter.
MULTIPLIERS = {
    "k": Decimal(1_000),
    "thousand": Decimal(1_000),
    "m": Decimal(1_000_000),
    "mm": Decimal(1_000_000),
    "mn": Decimal(1_000_000),
    "million": Decimal(1_000_000),
    "b": Decimal(1_000_000_000),
    "bn": Decimal(1_000_000_000),
    "billion": Decimal(1_000_000_000),
}
CURRENCY_SYMBOLS = "$€£¥₹"
# Spaces people (and spreadsheets) put between thousands: plain, no-break, narrow no-break, thin.
_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
_SUFFIX = re.compile(r"^(?P<number>.*?)\s*(?P<suffix>[a-z]+)$", re.IGNORECASE)
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)
# Commas only as thousands separators: 1,234 and 12,345,678.9, never 1,5 or 12,34.
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")

EXAMPLES = "20,000, 300k or 1.5m"
TOO_LARGE = Decimal(10) ** 18


class NumberError(ValueError):
    """A text that is not a number; ``message`` says so in words a person can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_number(text: str | None, *, field: str = "This field", currency: str = "") -> Decimal | None:
    """The number in ``text``, or None when it is empty.

    ``currency`` is the configured currency code (e.g. "USD"): typed before or after the number it
    is ignored, like the symbols $, €, £, ¥ and ₹. Raises ``NumberError`` naming ``field``.
    """
    if text is None:
        return None
    raw = str(text).strip()
    if not raw:
        return None
    value = raw
    if currency:
        value = re.sub(rf"^{re.escape(currency)}\b|\b{re.escape(currency)}$", "", value, flags=re.IGNORECASE).strip()
    sign = ""
    if value[:1] in "+-":
        sign, value = value[0], value[1:].strip()
    value = value.strip(CURRENCY_SYMBOLS).strip()
    if value[:1] in "+-" and not sign:
        sign, value = value[0], value[1:].strip()

    multiplier = Decimal(1)
    match = _SUFFIX.match(value)
    # "1e6" ends in a digit, so only a trailing word is a suffix; an exponent stays with the number.
    if match and not _PLAIN.match(value):
        suffix = match["suffix"].lower()
        if suffix not in MULTIPLIERS:
            raise NumberError(f"{field}: “{raw}” is not a number. Write it like {EXAMPLES}.")
        multiplier = MULTIPLIERS[suffix]
        value = match["number"].strip()

    value = _SPACES.sub("", value)
    if _GROUPED.match(value):
        value = value.replace(",", "")
    elif "," in value:
        if re.fullmatch(r"\d+,\d{1,2}", value):
            raise NumberError(f"{field}: write decimals with a point, e.g. {value.replace(',', '.')}.")
        raise NumberError(f"{field}: “{raw}” is not a number. Commas only separate thousands, e.g. 20,000.")
    if not _PLAIN.match(value):
        raise NumberError(f"{field}: “{raw}” is not a number. Write it like {EXAMPLES}.")
    try:
        number = Decimal(sign + value) * multiplier
    except InvalidOperation:  # pragma: no cover - the pattern above admits only what Decimal reads
        raise NumberError(f"{field}: “{raw}” is not a number. Write it like {EXAMPLES}.")
    if abs(number) >= TOO_LARGE:
        raise NumberError(f"{field}: “{raw}” is far too large to be right.")
    # 1e6 and 300k read as 1000000 and 300000, never in exponent form.
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return Decimal(format(number, "f"))
