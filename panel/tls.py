"""TLS trust for every outgoing connection.

The system's CA certificates are always trusted; `tls.ca_bundle` adds more
(a private CA, the lab's CA) on top instead of replacing them, so one setting
never breaks the public providers.
"""

from __future__ import annotations

import ssl
from typing import Iterable

import requests
from requests.adapters import HTTPAdapter

HTTP_TIMEOUT = 15  # seconds for one provider request; a hang ends as a failure


def ssl_context(extra_ca_files: Iterable[str] = ()) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for path in extra_ca_files:
        if path:
            context.load_verify_locations(cafile=path)
    return context


class _TrustAdapter(HTTPAdapter):
    def __init__(self, context: ssl.SSLContext):
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._context
        return super().init_poolmanager(*args, **kwargs)


class _Session(requests.Session):
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def http_session(extra_ca_files: Iterable[str] = ()) -> requests.Session:
    """A requests session for msal: system CAs plus the extra ones, a timeout."""
    session = _Session()
    session.mount("https://", _TrustAdapter(ssl_context(extra_ca_files)))
    return session
