"""A small table of which actions each state allows, shared by every workflow in the portal.

Proposals use it today; deployments, monitors and alerts are meant to describe their states
the same way, so that every refused action answers 409 with the same shape: the current state
and the actions that state does allow.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from portal.errors import InvalidTransition


class Transitions:
    """The actions each state allows, and the readable refusal when one is not.

    ``allowed`` maps each state to the actions it allows (an empty list: the state is final).
    ``labels`` turns an action into the verb phrase of a refusal ("vote on"); actions without a
    label read as their own name. ``state_label`` turns a state into the words people see
    ("council review"). ``noun`` is what the refusal calls the object ("this proposal").
    """

    def __init__(
        self,
        allowed: Mapping[str, Iterable[str]],
        *,
        labels: Mapping[str, str] | None = None,
        state_label: Callable[[str], str] = str,
        noun: str = "this object",
    ):
        self._allowed = {str(state): list(actions) for state, actions in allowed.items()}
        self.labels = dict(labels or {})
        self.state_label = state_label
        self.noun = noun

    def allowed(self, state: str) -> list[str]:
        """The actions ``state`` allows, in the order the table lists them (a fresh list)."""
        return list(self._allowed[str(state)])

    def is_allowed(self, state: str, action: str) -> bool:
        return action in self._allowed[str(state)]

    def require(self, state: str, action: str) -> None:
        """Raise ``InvalidTransition`` (409) naming the state and what it allows, unless ``action`` is allowed."""
        allowed = self.allowed(state)
        if action in allowed:
            return
        label = self.state_label(state)
        raise InvalidTransition(
            f"Cannot {self.labels.get(action, action)} {self.noun}: it is {label} ({state}). "
            + (f"Allowed now: {', '.join(allowed)}." if allowed else "It is final; nothing more can be done to it."),
            state=str(state),
            allowed_actions=allowed,
        )
