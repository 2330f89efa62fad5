"""The machine's mail clients: send over SMTP, receive over POP3, with XOAUTH2.

Both use the standard library (smtplib, poplib) and the common token from
the token service. A login the server refuses is retried once with a renewed
token; only a renewal the provider refuses makes the token Invalid (the token
service decides that). Certificates are always verified (system CAs plus
tls.ca_bundle, and the lab's CA for the lab provider). The token is never sent
over an unencrypted connection, except to the lab on loopback.

Thread rules: every function blocks on the network; call them off the UI
thread. `check_mailbox` serialises itself across processes with a file lock,
so two checks never fetch the same message twice.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import logging
import poplib
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Callable

from . import answers
from .errors import MailError, PanelError
from .settings import OAUTH2
from .tls import ssl_context
from .token_service import TokenService, _file_lock

log = logging.getLogger(__name__)

POP_TIMEOUT = 30  # seconds; the POP settings have no Timeout of their own


def xoauth2(account: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64."""
    return f"user={account}\x01auth=Bearer {token}\x01\x01"


def _trust(settings: dict[str, Any], data_dir) -> ssl.SSLContext:
    extra = [settings["tls.ca_bundle"]]
    if settings["oauth.provider"] == "lab":
        from .lab import read_endpoints

        endpoints = read_endpoints(data_dir) or {}
        extra.append(endpoints.get("ca_file", ""))
    return ssl_context(extra)


@dataclass(frozen=True)
class _Server:
    kind: str  # "SMTP" or "POP3"
    host: str
    port: int
    tls: str  # "off", "starttls" or "tls"
    timeout: int

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _server(settings: dict[str, Any], kind: str) -> _Server:
    prefix = "smtp" if kind == "SMTP" else "pop"
    label = "Primary Server" if kind == "SMTP" else "POP3 Server"
    if not settings[f"{prefix}.server"]:
        raise MailError(f"Enter the {label} first.")
    if settings[f"{prefix}.auth"] != OAUTH2:
        raise MailError(f"Set the {kind} Authentication Method to OAuth 2.0 first.")
    server = _Server(kind, settings[f"{prefix}.server"], settings[f"{prefix}.port"], settings[f"{prefix}.ssl"],
                     settings["smtp.timeout"] if kind == "SMTP" else POP_TIMEOUT)
    if server.tls == "off":
        raise MailError(f"OAuth 2.0 sends the token to the {kind} server: set Enable SSL/TLS to STARTTLS or "
                        "SSL/TLS.")
    return server


def _network_error(exc: BaseException, server: _Server) -> MailError:
    """A message for a connection that failed before any answer."""
    log.warning("%s connection to %s failed: %s", server.kind, server.where, type(exc).__name__)
    return MailError(answers.explain_connection(exc, server.kind, server.host, server.port, server.timeout))


def _log_in(tokens: TokenService, login: Callable[[str, str], Any]) -> tuple[Any, str]:
    """(client, account) logged in with the token; on a refusal, renew once and log in again.

    Raises MailError or TokenError.
    """
    account, token = tokens.access_token()
    try:
        return login(account, token), account
    except _LoginRefused:
        pass
    account, token = tokens.access_token(refused=token)
    try:
        return login(account, token), account
    except _LoginRefused as exc:
        raise MailError(exc.message) from None


class _LoginRefused(Exception):
    """The server refused the token: worth one retry with a renewed one."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- SMTP ---------------------------------------------------------------------

def _reply(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    return error.decode(errors="replace") if isinstance(error, bytes) else str(error)


def _smtp_session(settings: dict[str, Any], data_dir, tokens: TokenService,
                  job: Callable[[smtplib.SMTP, str], Any]) -> Any:
    server = _server(settings, "SMTP")
    context = _trust(settings, data_dir)

    def connect() -> smtplib.SMTP:
        try:
            if server.tls == "tls":
                client = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
                if server.tls == "starttls":
                    client.starttls(context=context)
            client.ehlo_or_helo_if_needed()
            return client
        except smtplib.SMTPNotSupportedError:
            raise MailError(f"{server.where} does not offer STARTTLS: set Enable SSL/TLS to SSL/TLS, "
                            "or check Port Number.") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _network_error(exc, server) from None

    def login(account: str, token: str) -> smtplib.SMTP:
        client = connect()
        response = xoauth2(account, token)
        try:
            # A second challenge carries the server's error details: answer it
            # with an empty line, as XOAUTH2 requires, to get the final reply.
            client.auth("XOAUTH2", lambda challenge=None: response if challenge is None else "")
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            message, token_fault = answers.explain_smtp(exc.smtp_code, _reply(exc), account=account,
                                                        sender=settings["smtp.sender_address"])
            if token_fault:
                raise _LoginRefused(message) from None
            raise MailError(message) from None
        except smtplib.SMTPNotSupportedError:
            client.close()
            raise MailError(f"{server.where} does not offer OAuth 2.0 (XOAUTH2) login.") from None
        except (OSError, smtplib.SMTPException) as exc:
            client.close()
            raise _network_error(exc, server) from None
        return client

    client, account = _log_in(tokens, login)
    try:
        return job(client, account)
    except smtplib.SMTPResponseException as exc:
        raise MailError(answers.explain_smtp(exc.smtp_code, _reply(exc), account=account,
                                             sender=settings["smtp.sender_address"])[0]) from None
    except smtplib.SMTPRecipientsRefused as exc:
        to = ", ".join(exc.recipients)
        raise MailError(f"The server refused the recipient {to}: check the address.") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise _network_error(exc, server) from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def test_smtp(settings: dict[str, Any], data_dir, tokens: TokenService) -> str:
    """[Connection Test] on the SMTP tab: log in, send nothing."""
    server = _server(settings, "SMTP")
    _smtp_session(settings, data_dir, tokens, lambda client, account: None)
    return f"Connection Test succeeded: logged in to {server.where} as {settings['oauth.account']}."


def send_test(settings: dict[str, Any], data_dir, tokens: TokenService, to: str) -> str:
    """[Send Test E-mail]: a short message from the Sender Name and Address to `to`."""
    from .settings import email_address

    try:
        to = email_address(to)
    except ValueError as exc:
        raise MailError(str(exc)) from None
    if not to:
        raise MailError("Enter the recipient's e-mail address.")
    sender = settings["smtp.sender_address"] or settings["oauth.account"]
    message = EmailMessage()
    message["From"] = email.utils.formataddr((settings["smtp.sender_name"], sender))
    message["To"] = to
    message["Subject"] = "Test e-mail from the printer"
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.split("@")[1])
    message.set_content("This is a test e-mail sent with OAuth 2.0 from the printer's SMTP settings.\n")
    _smtp_session(settings, data_dir, tokens,
                  lambda client, account: client.send_message(message, from_addr=sender, to_addrs=[to]))
    return f"Test e-mail sent to {to}."


# -- POP3 -----------------------------------------------------------------------

def _pop_session(settings: dict[str, Any], data_dir, tokens: TokenService,
                 job: Callable[[poplib.POP3, str], Any]) -> Any:
    server = _server(settings, "POP3")
    context = _trust(settings, data_dir)

    def connect() -> poplib.POP3:
        try:
            if server.tls == "tls":
                return poplib.POP3_SSL(server.host, server.port, timeout=server.timeout, context=context)
            client = poplib.POP3(server.host, server.port, timeout=server.timeout)
            if server.tls == "starttls":
                client.stls(context=context)
            return client
        except poplib.error_proto:
            raise MailError(f"{server.where} does not offer STLS: set Enable SSL/TLS to SSL/TLS, "
                            "or check Port Number.") from None
        except OSError as exc:
            raise _network_error(exc, server) from None

    def login(account: str, token: str) -> poplib.POP3:
        client = connect()
        try:
            # Microsoft's POP refuses the one-line form: send the mechanism,
            # wait for the "+" prompt, then send the response on its own line.
            client._shortcmd("AUTH XOAUTH2")
            client._shortcmd(base64.b64encode(xoauth2(account, token).encode()).decode())
        except poplib.error_proto as exc:
            client.close()
            text = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else ""
            raise _LoginRefused(answers.explain_pop(text, account)) from None
        except OSError as exc:
            client.close()
            raise _network_error(exc, server) from None
        return client

    client, account = _log_in(tokens, login)
    try:
        return job(client, account)
    except poplib.error_proto as exc:
        raise MailError(f"The POP3 server {server.where} answered with an error; try again later.") from exc
    except OSError as exc:
        raise _network_error(exc, server) from None
    finally:
        try:
            client.quit()
        except (OSError, poplib.error_proto):
            client.close()


def test_pop(settings: dict[str, Any], data_dir, tokens: TokenService) -> str:
    """[Connection Test] on the POP settings: log in, fetch nothing."""
    server = _server(settings, "POP3")
    _pop_session(settings, data_dir, tokens, lambda client, account: client.stat())
    return f"Connection Test succeeded: logged in to {server.where} as {settings['oauth.account']}."


@dataclass(frozen=True)
class Received:
    """One retrieved e-mail, as the Received E-mail screen lists it."""

    id: int
    sender: str
    subject: str
    date: str
    size: int
    received_at: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summary(raw: bytes) -> dict[str, Any]:
    """From, Subject and Date of a message, decoded for display."""
    head = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    return {"sender": str(head.get("From", "")), "subject": str(head.get("Subject", "")),
            "date": str(head.get("Date", "")), "size": len(raw)}


def body_text(raw: bytes) -> str:
    """The readable text of a message: its text/plain part, else a note."""
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return "(This message has no plain-text part.)"
    try:
        return part.get_content()
    except (LookupError, ValueError):
        return part.get_payload(decode=True).decode("utf-8", errors="replace")


def check_mailbox(settings: dict[str, Any], data_dir, tokens: TokenService, store) -> str:
    """Fetch new messages into the store and delete them from the server.

    A message is saved (keyed by its UIDL) before it is deleted, so a check
    that dies half-way loses nothing and fetches nothing twice.
    """
    def job(client: poplib.POP3, account: str) -> int:
        new = 0
        for line in client.uidl()[1]:
            number, uid = line.decode("ascii", errors="replace").split(" ", 1)
            if not store.has_message(account, uid):
                raw = b"\r\n".join(client.retr(int(number))[1]) + b"\r\n"
                store.add_message(account, uid, raw, summary(raw))
                new += 1
            client.dele(int(number))
        return new

    with _file_lock(data_dir / "pop.lock"):
        try:
            new = _pop_session(settings, data_dir, tokens, job)
        except PanelError as exc:
            store.set_last_check(time.time(), exc.message, ok=False)
            raise
    result = f"{new} new message{'s' if new != 1 else ''}."
    store.set_last_check(time.time(), result, ok=True)
    return result
