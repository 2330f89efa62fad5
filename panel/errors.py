"""User-facing errors.

Every message the product shows, prints or logs about a failure comes from
one of these classes: the text is written for the administrator at the panel
and says what to do. Raw exception text from libraries never reaches the
screen, because it can be cryptic and may carry secrets.
"""

from __future__ import annotations


class PanelError(Exception):
    """A failure with a message fit for the screen."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(PanelError):
    """One or more settings were refused; nothing was saved.

    `errors` maps each refused setting key to the message for its field.
    """

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


class TokenError(PanelError):
    """The token operation asked for is not possible now."""


class ProviderError(PanelError):
    """The provider could not be used or answered with an error."""


class MailError(PanelError):
    """Sending or receiving mail failed; the message says what to change."""


class AccessError(PanelError):
    """The administrator login was refused for now (locked after wrong tries)."""
