"""The one domain error type. Views turn it into a readable message, the API into 400/409."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; ``status`` is the HTTP status adapters answer with."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, **details):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.details = details


class InvalidTransition(DomainError):
    """An action not allowed in the object's current state."""

    status = 409

    def __init__(self, message: str, *, state: str, allowed_actions: list[str] | tuple[str, ...]):
        super().__init__(message, state=state, allowed_actions=list(allowed_actions))


class Forbidden(DomainError):
    status = 403


class RateLimited(DomainError):
    """More of something in a period than one person may do; the message says when to try again."""

    status = 429
