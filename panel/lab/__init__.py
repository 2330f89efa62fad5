"""The lab: a local identity provider (RFC 8628 device authorization grant,
rotating refresh tokens, OpenID Connect ID tokens) on loopback HTTPS, with an
approval page a phone or browser can use, and SMTP and POP3 servers that
accept XOAUTH2 with its tokens only. It is the embedded default for
demonstrations and the real peer for tests.

- ``LabServer`` runs it all in background threads (``server``, ``smtp``,
  ``pop3``; mail kept in ``mailbox``);
- ``controls`` puts a lab (in this process or another) in the states a real
  tenant can be in: expired or revoked tokens, disabled accounts, faults;
  and injects faults of the provider itself (HTTP errors, hangs, malformed
  or unexpected answers); ``LabServer(tls_fault=...)`` serves a broken
  certificate;
- ``read_endpoints(data_dir)`` tells another process where a running lab is;
- ``LAB_ACCOUNTS``, ``LAB_CLIENT_ID`` and ``LAB_SCOPES`` are the lab's users,
  its registered public client and the mail scopes it advertises.

Thread rules: see ``server`` and ``idp``; importing this package starts
nothing.
"""

from . import controls
from .idp import LAB_ACCOUNTS, LAB_CLIENT_ID, LAB_SCOPES
from .server import LabBusy, LabServer, read_endpoints

__all__ = ["LabBusy", "LabServer", "LAB_ACCOUNTS", "LAB_CLIENT_ID", "LAB_SCOPES", "controls", "read_endpoints"]
