"""The panel's colours and the colour of each token status, used from kv."""

from __future__ import annotations

BAR = (0.12, 0.17, 0.23, 1)
BAR_TEXT = (1, 1, 1, 1)
BAR_MUTED = (0.72, 0.78, 0.85, 1)
BACKGROUND = (0.92, 0.93, 0.95, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.10, 0.12, 0.15, 1)
MUTED = (0.38, 0.41, 0.46, 1)
KEY = (0.97, 0.97, 0.98, 1)
KEY_DOWN = (0.78, 0.84, 0.92, 1)
KEY_BORDER = (0.62, 0.66, 0.72, 1)
KEY_DISABLED = (0.88, 0.89, 0.91, 1)
KEY_TEXT_DISABLED = (0.60, 0.62, 0.66, 1)
PRIMARY = (0.05, 0.38, 0.72, 1)
PRIMARY_DOWN = (0.03, 0.27, 0.52, 1)
DANGER = (0.70, 0.13, 0.13, 1)
ERROR = (0.78, 0.08, 0.08, 1)
OK = (0.08, 0.50, 0.20, 1)
WAIT = (0.72, 0.42, 0.0, 1)
SCRIM = (0, 0, 0, 0.55)
INVALID_BAND = (0.99, 0.90, 0.89, 1)  # behind an Invalid token's status and message
INVALID_TEXT = (0.55, 0.06, 0.06, 1)

_STATUS = {
    "Not Retrieved": MUTED,
    "Waiting for authorisation": WAIT,
    "Retrieved": OK,
    "Invalid": ERROR,
}


def status_color(word: str) -> tuple:
    return _STATUS.get(word, TEXT)
