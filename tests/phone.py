"""What a phone's browser does with the QR code: open the page, fill the form, press a button.

The form is read from the page's HTML as a browser would read it, so the
tests exercise the lab's real approval page, not a side door.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self.buttons: dict[str, tuple[str, str]] = {}  # label -> (name, value)
        self._select = None
        self._button = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "submit":
                self.buttons[a.get("value", "")] = (a["name"], a.get("value", ""))
            elif kind not in ("radio", "checkbox") or "checked" in a:
                self.fields[a["name"]] = a.get("value", "")
            if kind == "radio":
                self.options.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.options.setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a or self._select not in self.fields:
                self.fields[self._select] = a.get("value", "")
        elif tag == "button":
            self._button = (a.get("name"), a.get("value", ""))

    def handle_data(self, data):
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "button":
            self._button = None


def answer(url: str, ca_file: str, button: str = "Approve", account: str | None = None,
           user_code: str | None = None) -> str:
    """Open the approval page at `url`, choose `account`, press `button`; return the result page's text."""
    with requests.Session() as s:
        page = s.get(url, timeout=10, verify=str(ca_file))  # per request: REQUESTS_CA_BUNDLE beats Session.verify
        page.raise_for_status()
        form = _Form()
        form.feed(page.text)
        assert form.action is not None, "the approval page has no form"
        data = dict(form.fields)
        if user_code is not None:
            data["user_code"] = user_code
        if account is not None:
            field = next(n for n, opts in form.options.items() if account in opts)
            data[field] = account
        matches = [label for label in form.buttons if label.lower() == button.lower()]
        assert matches, f"no {button} button on the page: {list(form.buttons)}"
        name, value = form.buttons[matches[0]]
        if name:
            data[name] = value
        result = s.post(urljoin(page.url, form.action), data=data, timeout=10, verify=str(ca_file))
        return result.text
