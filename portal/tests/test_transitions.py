"""The shared state-transition table: what a state allows and how a refusal reads."""

from __future__ import annotations

import pytest

from portal.errors import InvalidTransition
from portal.transitions import Transitions

LIGHT = Transitions(
    {"off": ["switch_on"], "on": ["switch_off", "dim"], "broken": []},
    labels={"switch_on": "switch on", "switch_off": "switch off"},
    state_label=lambda state: {"on": "lit", "off": "dark", "broken": "broken"}[state],
    noun="this lamp",
)


def test_allowed_lists_the_actions_of_a_state_in_order():
    assert LIGHT.allowed("on") == ["switch_off", "dim"]
    assert LIGHT.allowed("broken") == []


def test_allowed_returns_a_copy_callers_cannot_change_the_table_through():
    LIGHT.allowed("off").append("dim")
    assert LIGHT.allowed("off") == ["switch_on"]


def test_is_allowed_answers_yes_or_no():
    assert LIGHT.is_allowed("off", "switch_on")
    assert not LIGHT.is_allowed("off", "dim")


def test_require_passes_an_allowed_action():
    LIGHT.require("on", "dim")


def test_require_refuses_naming_the_state_and_what_it_allows():
    with pytest.raises(InvalidTransition) as err:
        LIGHT.require("off", "dim")
    assert err.value.status == 409
    assert err.value.message == "Cannot dim this lamp: it is dark (off). Allowed now: switch_on."
    assert err.value.details == {"state": "off", "allowed_actions": ["switch_on"]}


def test_require_in_a_final_state_says_nothing_more_can_be_done():
    with pytest.raises(InvalidTransition) as err:
        LIGHT.require("broken", "switch_on")
    assert err.value.message == "Cannot switch on this lamp: it is broken (broken). It is final; nothing more can be done to it."
    assert err.value.details["allowed_actions"] == []


def test_an_unknown_state_is_a_programming_error_not_a_refusal():
    with pytest.raises(KeyError):
        LIGHT.allowed("melted")
