"""A scripted phone: opens a sign-in page and submits its form, like a person.

The tour and the tests use it to approve (or deny) the code shown on the
panel through the lab's own approval page, with nothing but the address
the panel showed (or its QR code held): GET the page, read the form as a
browser would (its action, fields, the radio buttons, the submit keys),
choose the account, press the key whose label is asked for.

Blocking network calls: run it off the Kivy main thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str = ""
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)  # radio or select name -> values
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (label, name, value)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.form: Form | None = None
        self._done = False
        self._button: list[str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if self._done:
            return
        if tag == "form" and self.form is None:
            self.form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            return
        if self.form is None:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            name = a.get("name")
            if not name:
                return
            if kind in ("radio", "checkbox"):
                self.form.choices.setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a:
                    self.form.fields[name] = a.get("value", "on")
            elif kind == "submit":
                self.form.buttons.append((a.get("value", ""), name, a.get("value", "")))
            else:
                self.form.fields[name] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self.form.choices.setdefault(self._select, []).append(value)
            if "selected" in a or self._select not in self.form.fields:
                self.form.fields[self._select] = value
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = [a.get("name", ""), a.get("value", ""), ""]

    def handle_data(self, data):
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None and self.form is not None:
            name, value, label = self._button
            self.form.buttons.append((label.strip(), name, value))
            self._button = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.form is not None:
            self._done = True


def read_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    if parser.form is None:
        raise AssertionError("the page has no form")
    return parser.form


def sign_in(url: str, account: str | None = None, press: str = "Approve", verify: str | bool = True,
            timeout: float = 10, user_code: str | None = None) -> requests.Response:
    """Open `url`, type `user_code` (when given), choose `account` (when given),
    press the key labelled `press`; the answer page.

    `verify` is passed with each request: REQUESTS_CA_BUNDLE, where set,
    would override a Session's own.
    """
    verify = str(verify) if not isinstance(verify, bool) else verify
    with requests.Session() as browser:
        page = browser.get(url, verify=verify, timeout=timeout)
        page.raise_for_status()
        form = read_form(page.text)
        data = dict(form.fields)
        if user_code is not None:
            data["user_code"] = user_code
        for name, values in form.choices.items():
            if account in values:
                data[name] = account
        for label, name, value in form.buttons:
            if label.lower() == press.lower():
                if name:
                    data[name] = value
                break
        else:
            raise AssertionError(f"the page has no {press!r} key (it has {[b[0] for b in form.buttons]})")
        target = urljoin(page.url, form.action or page.url)
        if form.method == "post":
            answer = browser.post(target, data=data, verify=verify, timeout=timeout)
        else:
            answer = browser.get(target, params=data, verify=verify, timeout=timeout)
        return answer
