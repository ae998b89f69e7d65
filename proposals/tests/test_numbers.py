"""Numbers as people type them into the proposal form (``proposals.numbers``): pure, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from proposals.numbers import NumberError, parse_number


@pytest.mark.parametrize("text, expected", [
    ("20000", "20000"),
    ("20,000", "20000"),
    ("20 000", "20000"),
    ("20\u00a0000", "20000"),            # a no-break space, as spreadsheets copy it
    ("1,234,567.89", "1234567.89"),
    ("300k", "300000"),
    ("300K", "300000"),
    ("300 k", "300000"),
    ("1.5m", "1500000"),
    ("2.5M", "2500000"),
    ("$300k", "300000"),
    ("€1.2bn", "1200000000"),
    ("1e6", "1000000"),
    ("11.5", "11.5"),
    (".5", "0.5"),
    ("-3", "-3"),
    ("$-3.5", "-3.5"),
    ("  42  ", "42"),
])
def test_numbers_people_write_are_read(text, expected):
    value = parse_number(text, field="Impact")
    assert value == Decimal(expected)
    assert "E" not in str(value)  # never exponent form: 1e6 reads 1000000


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_field_is_no_number(text):
    assert parse_number(text, field="Impact") is None


def test_the_configured_currency_code_may_be_typed_before_or_after():
    assert parse_number("USD 300k", field="Impact", currency="USD") == Decimal(300000)
    assert parse_number("300k usd", field="Impact", currency="USD") == Decimal(300000)
    with pytest.raises(NumberError):
        parse_number("300k usd", field="Impact", currency="EUR")


@pytest.mark.parametrize("text, says", [
    ("about a million", "Estimated yearly impact: “about a million” is not a number. Write it like 20,000, 300k or 1.5m."),
    ("abc", "Estimated yearly impact: “abc” is not a number."),
    ("300x", "Estimated yearly impact: “300x” is not a number."),
    ("k", "Estimated yearly impact: “k” is not a number."),
    ("1.2.3", "Estimated yearly impact: “1.2.3” is not a number."),
    ("nan", "Estimated yearly impact: “nan” is not a number."),
    ("inf", "Estimated yearly impact: “inf” is not a number."),
    ("1,5", "Estimated yearly impact: write decimals with a point, e.g. 1.5."),
    ("1,2345", "Estimated yearly impact: “1,2345” is not a number. Commas only separate thousands, e.g. 20,000."),
    ("1e30", "Estimated yearly impact: “1e30” is far too large to be right."),
])
def test_garbage_is_refused_with_a_message_naming_the_field(text, says):
    with pytest.raises(NumberError) as refused:
        parse_number(text, field="Estimated yearly impact")
    assert refused.value.message.startswith(says)
