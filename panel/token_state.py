"""The token's state machine.

The four statuses are the manual's "Token" display, word for word. Every
change of status goes through `TokenStatus.check_transition`, so a status the
manual does not allow after another one is a programming error that raises,
not a display that silently lies.
"""

from __future__ import annotations

import enum


class TokenStatus(enum.Enum):
    NOT_RETRIEVED = "Not Retrieved"
    WAITING = "Waiting for authorisation"
    RETRIEVED = "Retrieved"
    INVALID = "Invalid"

    @property
    def display(self) -> str:
        return self.value

    def check_transition(self, new: "TokenStatus") -> None:
        if new not in _TRANSITIONS[self]:
            raise IllegalTransition(f"token status cannot go from {self.value} to {new.value}")


class IllegalTransition(RuntimeError):
    """A status change the state machine forbids (a bug, never user input)."""


_TRANSITIONS: dict[TokenStatus, frozenset[TokenStatus]] = {
    # [Get Token] starts a device flow.
    TokenStatus.NOT_RETRIEVED: frozenset({TokenStatus.WAITING}),
    # The flow ends in a token, or in nothing (denied, expired, cancelled, failed).
    TokenStatus.WAITING: frozenset({TokenStatus.RETRIEVED, TokenStatus.NOT_RETRIEVED}),
    # Deleted, or renewal refused by the provider.
    TokenStatus.RETRIEVED: frozenset({TokenStatus.NOT_RETRIEVED, TokenStatus.INVALID}),
    # The manual's remedy for an unusable token is to delete it.
    TokenStatus.INVALID: frozenset({TokenStatus.NOT_RETRIEVED}),
}
