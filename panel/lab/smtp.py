"""The lab's SMTP submission server, on aiosmtpd: it accepts mail only from a
client that logged in with AUTH XOAUTH2 and a live access token the lab
identity provider issued, and answers as Exchange Online does.

Two listeners, as Exchange Online has (smtp.office365.com):

- submission with STARTTLS (like port 587): nothing but EHLO, NOOP, STARTTLS
  and QUIT before TLS, AUTH only after it;
- implicit TLS (like port 465).

Each is an aiosmtpd ``Controller`` (a thread running an asyncio loop) on a
socket the owner has already bound, so port 0 and remembered ports work and
"port in use" is raised by the owner. ``LabSMTPServer.start()`` returns once
both answer (aiosmtpd connects to each) and raises their start errors;
``stop()`` stops both loops and joins their threads.

The answers and the Exchange documentation each follows:

- ``235 2.7.0 Authentication successful`` and ``535 5.7.3 Authentication
  unsuccessful`` (a token that is unknown, expired, revoked, of another
  account than ``user=``, or of a disabled account): Exchange "Authenticate
  an IMAP, POP or SMTP connection using OAuth";
- ``535 5.7.139 ... SmtpClientAuthentication is disabled for the Tenant``
  when the lab fault ``smtp_auth_disabled`` is on: Exchange "Enable or
  disable authenticated client SMTP submission (SMTP AUTH)";
- ``530 5.7.57 Client not authenticated to send mail``: Exchange "How to
  set up a multifunction device or application to send email using
  Microsoft 365" (SMTP AUTH client submission troubleshooting);
- ``554 5.2.252 SendAsDenied; <account> not allowed to send as <sender>``
  after DATA when MAIL FROM or From is not the signed-in account: Exchange
  Online NDR reference "Fix email delivery issues for error code 5.2.252";
- ``550 5.1.10 RESOLVER.ADR.RecipientNotFound`` for an address with no lab
  mailbox: Exchange Online NDR reference "error code 5.1.10".

Thread rules: the handler runs on the controllers' event loop threads and
calls the identity provider's ``validate_access_token``, the control state
and the mailboxes, all thread-safe. No token, and no AUTH line, is ever
logged: aiosmtpd masks AUTH arguments in its own log and never logs the
answer to a ``334`` challenge; this module logs only accounts.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import email.utils
import logging
import socket
import ssl
import threading
import weakref
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session

from .mailbox import Mailboxes

__all__ = ["LabSMTPServer", "LabSMTPHandler", "parse_xoauth2"]

log = logging.getLogger(__name__)

AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = "535 5.7.3 Authentication unsuccessful"
SMTP_AUTH_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the"
    " Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."
)
NOT_AUTHENTICATED = (
    "530 5.7.57 Client not authenticated to send mail. Error: 530 5.7.57 SMTP;"
    " Client was not authenticated to send anonymous mail during MAIL FROM"
)
RECIPIENT_NOT_FOUND = (
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
)
SEND_AS_DENIED = (
    "554 5.2.252 SendAsDenied; {account} not allowed to send as {sender};"
    " STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied;"
    " Failed to process message due to a permanent exception with message Cannot submit message."
)
BAD_BASE64 = "501 5.5.2 Cannot decode base64"
TEMPORARY_ERROR = "451 4.3.0 Temporary server error. Please try again later."


def parse_xoauth2(blob: bytes) -> tuple[str, str] | None:
    """``(user, token)`` from a decoded XOAUTH2 initial response
    (``user=<account>^Aauth=Bearer <token>^A^A``), or None if it is not one."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\x01\x01"):
        return None
    fields = {}
    for part in text[:-2].split("\x01"):
        key, sep, value = part.partition("=")
        if not sep or key in fields:
            return None
        fields[key] = value
    user, auth = fields.get("user", ""), fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if not user or scheme.lower() != "bearer" or not token.strip():
        return None
    return user.strip(), token.strip()


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs whenever
    AUTH succeeds (smtp_AUTH itself sets the deprecated ``login_data``)."""

    @property
    def login_data(self):
        return self._login_data

    @login_data.setter
    def login_data(self, value):
        self._login_data = value


class _LabSMTP(SMTP):
    def __init__(self, handler, *, implicit_tls: bool = False, **kwargs):
        super().__init__(handler, **kwargs)
        if implicit_tls:
            # The whole connection is TLS, but aiosmtpd counts only STARTTLS
            # as TLS and would refuse AUTH; saying auth_require_tls=False to
            # its constructor instead makes it warn on every connection.
            self._auth_require_tls = False

    def _create_session(self) -> Session:
        return _Session(self.loop)

    async def check_auth_needed(self, caller_method: str) -> bool:
        # Exchange's answer to mail from a client that has not logged in.
        if not self.session.authenticated:
            await self.push(NOT_AUTHENTICATED)
            return True
        return False


class LabSMTPHandler:
    """What the lab's SMTP server does: XOAUTH2 logins, recipients, delivery.

    ``validate(token)`` returns the account of a live access token (None
    otherwise, also for a disabled account); ``faults()`` the set of lab
    faults now on (read per login, never cached).
    """

    def __init__(
        self,
        validate: Callable[[str], str | None],
        mailboxes: Mailboxes,
        faults: Callable[[], set],
    ):
        self.validate = validate
        self.mailboxes = mailboxes
        self.faults = faults

    def __repr__(self):
        return "<LabSMTPHandler>"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            # The initial response on the AUTH line, as smtplib sends it.
            try:
                blob = base64.b64decode(args[1], validate=True) if args[1] != "=" else b""
            except binascii.Error:
                return AuthResult(success=False, handled=False, message=BAD_BASE64)
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)  # answered already
        if "smtp_auth_disabled" in self.faults():
            log.info("SMTP AUTH refused: SMTP AUTH is disabled for the tenant (lab fault)")
            return AuthResult(success=False, handled=False, message=SMTP_AUTH_DISABLED)
        parsed = parse_xoauth2(blob)
        if parsed is None:
            log.info("SMTP AUTH XOAUTH2 refused: not an XOAUTH2 response")
            return AuthResult(success=False, handled=False, message=AUTH_FAILED)
        user, token = parsed
        account = self.validate(token)
        if account is None or account.lower() != user.lower():
            log.info("SMTP AUTH XOAUTH2 refused for %s", user)
            return AuthResult(success=False, handled=False, message=AUTH_FAILED)
        log.info("SMTP AUTH XOAUTH2 accepted for %s", account)
        return AuthResult(success=True, auth_data=account, message=AUTH_OK)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.mailboxes.has_mailbox(address):
            return RECIPIENT_NOT_FOUND
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server, session, envelope):
        account = session.auth_data
        sender = self._foreign_sender(account, envelope)
        if sender is not None:
            # Exchange accepts MAIL FROM and refuses the message after DATA.
            log.info("SMTP message refused: %s may not send as %s", account, sender)
            return SEND_AS_DENIED.format(account=account, sender=sender)
        self.mailboxes.deliver(envelope.original_content, envelope.rcpt_tos)
        log.info("SMTP message from %s delivered to %s", account, ", ".join(envelope.rcpt_tos))
        return "250 2.0.0 OK"

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd would answer with the exception's text: say nothing of it.
        log.warning("SMTP session failed: %s", type(error).__name__)
        return TEMPORARY_ERROR

    @staticmethod
    def _foreign_sender(account: str, envelope) -> str | None:
        """The first sender address (MAIL FROM, then From) that is not
        ``account``, or None."""
        senders = [envelope.mail_from or ""]
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            envelope.original_content
        )
        senders += [addr for _, addr in email.utils.getaddresses(headers.get_all("From", []))]
        for sender in senders:
            if sender.strip().lower() != account.lower():
                return sender.strip() or "<>"
        return None


class _Controller(Controller):
    """aiosmtpd's threaded controller serving a socket bound by its owner."""

    def __init__(self, handler, sock: socket.socket, **kwargs):
        host, port = sock.getsockname()[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock
        self._sessions: weakref.WeakSet = weakref.WeakSet()  # touched on the loop thread only

    def factory(self):
        smtp = _LabSMTP(self.handler, implicit_tls=self.ssl_context is not None, **self.SMTP_kwargs)
        self._sessions.add(smtp)
        return smtp

    def stop(self, no_assert: bool = False):
        # aiosmtpd stops the loop while connections are open; one that used
        # STARTTLS then never closes its socket. Cut them first, on the loop.
        if self._thread is not None and self.loop.is_running():
            done = threading.Event()

            def cut():
                for smtp in list(self._sessions):
                    transport = smtp._original_transport or smtp.transport
                    if transport is not None:
                        transport.abort()
                done.set()

            self.loop.call_soon_threadsafe(cut)
            done.wait(5)
        super().stop(no_assert)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class LabSMTPServer:
    """The two SMTP listeners of the lab (see the module docstring)."""

    def __init__(
        self,
        handler: LabSMTPHandler,
        *,
        starttls_sock: socket.socket,
        tls_sock: socket.socket,
        tls_context: ssl.SSLContext,
        hostname: str,
    ):
        common = dict(
            server_hostname=hostname,
            ident="panel lab ESMTP",
            auth_required=True,
            # Only XOAUTH2: no password ever crosses the lab.
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
            enable_SMTPUTF8=False,
        )
        self.starttls_port = starttls_sock.getsockname()[1]
        self.tls_port = tls_sock.getsockname()[1]
        self._socks = [starttls_sock, tls_sock]
        self._controllers = [
            _Controller(
                handler, starttls_sock, tls_context=tls_context, require_starttls=True,
                auth_require_tls=True, **common,
            ),
            _Controller(handler, tls_sock, ssl_context=tls_context, **common),
        ]
        self._started: list[_Controller] = []

    def start(self) -> "LabSMTPServer":
        try:
            for controller in self._controllers:
                controller.start()
                self._started.append(controller)
        except BaseException:
            self.stop()
            raise
        log.info("lab SMTP ready on ports %d (STARTTLS) and %d (TLS)", self.starttls_port, self.tls_port)
        return self

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()
        for controller in self._controllers:
            if controller._thread is not None:  # a start that failed half-way
                controller.stop(no_assert=True)
            if not controller.loop.is_closed() and not controller.loop.is_running():
                controller.loop.close()
        for sock in self._socks:
            sock.close()  # the loop's server closed it already, unless it never ran
