"""The lab's POP3 server: RFC 1939 with CAPA (RFC 2449), STLS (RFC 2595) and
SASL (RFC 5034) with the XOAUTH2 mechanism only, answering as Exchange
Online's POP does (outlook.office365.com).

Two listeners: implicit TLS (like port 995) and plain (like port 110), where
AUTH is refused until STLS has made the connection TLS. Logging in takes
exactly what Exchange documents ("Authenticate an IMAP, POP or SMTP
connection using OAuth"): ``AUTH XOAUTH2``, the server's ``+ `` prompt, the
base64 line, then ``+OK User successfully authenticated.`` or ``-ERR
Authentication failure: unknown user name or bad password.``; the one-line
form ``AUTH XOAUTH2 <base64>`` is refused, as Microsoft's POP does. The token
must be a live access token the lab identity provider issued for the
account named in ``user=`` (and the account must not be disabled).

After login the maildrop is the account's mailbox as it was then (RFC 1939
message numbers stay fixed for the session); DELE only marks, and marked
messages are removed at QUIT (the UPDATE state). A connection that ends
without QUIT removes nothing.

Thread rules: ``LabPOP3Server`` runs one ``socketserver`` thread per
listener and one thread per connection. ``start()`` returns with both
listeners accepting; ``stop()`` stops accepting, cuts every open connection
and joins every thread. Sessions call the identity provider's
``validate_access_token`` and the mailboxes, both thread-safe. Nothing a
client sends is logged, only commands' names and accounts.
"""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import socketserver
import ssl
import threading
from typing import Callable

from .mailbox import Mailboxes, MessageInfo
from .smtp import parse_xoauth2

__all__ = ["LabPOP3Server"]

log = logging.getLogger(__name__)

GREETING = "+OK The lab POP3 service is ready."
AUTH_OK = "+OK User successfully authenticated."
AUTH_FAILED = "-ERR Authentication failure: unknown user name or bad password."
ONE_LINE_REFUSED = "-ERR Protocol error. Send AUTH XOAUTH2, then the credentials after the + prompt."
TLS_FIRST = "-ERR Command is not valid in this state. Issue STLS first."
NOT_NOW = "-ERR Command is not valid in this state."
UNKNOWN = "-ERR Unknown command."
NO_SUCH_MESSAGE = "-ERR No such message."

# A client that says nothing for this long is dropped (RFC 1939 asks for at
# least 10 minutes; stop() does not wait for it).
_IDLE_TIMEOUT = 600
# Longer than any command; an XOAUTH2 line with a real Microsoft token is a
# few kilobytes.
_MAX_LINE = 16384


class _Closed(Exception):
    """The client went away, or a line was too long."""


class _Session:
    """One POP3 conversation on one connection (runs on its own thread)."""

    def __init__(self, sock: socket.socket, server: "_POP3Listener"):
        self.sock = sock
        self.server = server
        self.lab: LabPOP3Server = server.lab
        self.tls = False
        self._buffer = b""
        self.account: str | None = None
        self.messages: list[MessageInfo] = []
        self.deleted: set[int] = set()

    # -- i/o -----------------------------------------------------------------

    def abort(self) -> None:
        """Called from ``stop()`` on another thread: end any blocked read."""
        try:
            # On the plain socket level: a read inside SSL ends too.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def send_lines(self, first: str, lines: list[bytes]) -> None:
        """A multi-line answer: byte-stuffed lines and the final "."."""
        out = [first.encode("utf-8")]
        for line in lines:
            out.append(b"." + line if line.startswith(b".") else line)
        out.append(b".")
        self.sock.sendall(b"\r\n".join(out) + b"\r\n")

    def readline(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > _MAX_LINE:
                raise _Closed("line too long")
            try:
                data = self.sock.recv(4096)
            except (OSError, ValueError) as exc:  # ValueError: closed SSL socket
                raise _Closed(type(exc).__name__) from None
            if not data:
                raise _Closed("end of stream")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def start_tls(self) -> None:
        # RFC 2595 section 4: whatever the client sent before the handshake
        # is discarded, never read as commands sent under TLS.
        self._buffer = b""
        self.sock = self.lab.tls_context.wrap_socket(
            self.sock, server_side=True, do_handshake_on_connect=False
        )
        self.server.track(self)  # stop() must now cut the TLS socket
        self.sock.do_handshake()
        self.tls = True

    # -- the conversation -------------------------------------------------------------

    def run(self) -> None:
        try:
            if self.server.implicit_tls:
                self.start_tls()
            self.send(GREETING)
            while True:
                line = self.readline()
                verb, _, arg = line.decode("utf-8", "replace").partition(" ")
                verb = verb.upper()
                log.debug("POP3 %s command", verb if verb.isalpha() and len(verb) <= 8 else "?")
                if verb == "QUIT":
                    self.quit()
                    return
                handler = getattr(self, f"cmd_{verb}", None) if verb.isalpha() else None
                if handler is None:
                    self.send(UNKNOWN)
                elif verb in _TRANSACTION_ONLY and self.account is None:
                    self.send(NOT_NOW)
                else:
                    handler(arg.strip())
        except _Closed as exc:
            log.debug("POP3 connection ended: %s", exc)
        except (ssl.SSLError, OSError) as exc:
            log.debug("POP3 connection failed: %s", type(exc).__name__)
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    # AUTHORIZATION state

    def cmd_CAPA(self, arg: str) -> None:
        caps = [b"TOP", b"UIDL", b"SASL XOAUTH2"]
        if not self.tls and self.account is None:
            caps.append(b"STLS")
        caps.append(b"IMPLEMENTATION panel-lab")
        self.send_lines("+OK", caps)

    def cmd_STLS(self, arg: str) -> None:
        if self.tls or self.account is not None:
            self.send(NOT_NOW)
            return
        self.send("+OK Begin TLS negotiation.")
        self.start_tls()

    def cmd_AUTH(self, arg: str) -> None:
        if self.account is not None:
            self.send(NOT_NOW)
            return
        if not self.tls:
            self.send(TLS_FIRST)
            return
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() != "XOAUTH2":
            self.send("-ERR Unrecognized authentication type.")
            return
        if initial.strip():
            self.send(ONE_LINE_REFUSED)
            return
        self.send("+ ")
        answer = self.readline().strip()
        if answer == b"*":
            self.send("-ERR Authentication canceled.")
            return
        try:
            parsed = parse_xoauth2(base64.b64decode(answer, validate=True))
        except binascii.Error:
            parsed = None
        account = self.lab.validate(parsed[1]) if parsed else None
        if account is None or account.lower() != parsed[0].lower():
            log.info("POP3 AUTH XOAUTH2 refused%s", f" for {parsed[0]}" if parsed else "")
            self.send(AUTH_FAILED)
            return
        self.account = account
        self.messages = self.lab.mailboxes.list(account)
        log.info("POP3 AUTH XOAUTH2 accepted for %s (%d messages)", account, len(self.messages))
        self.send(AUTH_OK)

    def cmd_USER(self, arg: str) -> None:
        # Basic authentication is off, as at Exchange Online.
        self.send("-ERR Command is not supported. Use AUTH XOAUTH2.")

    cmd_PASS = cmd_APOP = cmd_USER

    # TRANSACTION state

    def _live(self) -> list[tuple[int, MessageInfo]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if n not in self.deleted]

    def _message(self, arg: str) -> tuple[int, MessageInfo] | None:
        """The message numbered ``arg``, or None (after answering -ERR)."""
        if not arg.isdigit() or not 1 <= int(arg) <= len(self.messages):
            self.send(NO_SUCH_MESSAGE)
            return None
        n = int(arg)
        if n in self.deleted:
            self.send(f"-ERR Message {n} has been deleted.")
            return None
        return n, self.messages[n - 1]

    def cmd_STAT(self, arg: str) -> None:
        live = self._live()
        self.send(f"+OK {len(live)} {sum(m.size for _, m in live)}")

    def cmd_LIST(self, arg: str) -> None:
        if arg:
            found = self._message(arg)
            if found:
                self.send(f"+OK {found[0]} {found[1].size}")
            return
        live = self._live()
        self.send_lines(
            f"+OK {len(live)} messages ({sum(m.size for _, m in live)} octets)",
            [f"{n} {m.size}".encode() for n, m in live],
        )

    def cmd_UIDL(self, arg: str) -> None:
        if arg:
            found = self._message(arg)
            if found:
                self.send(f"+OK {found[0]} {found[1].uid}")
            return
        self.send_lines("+OK", [f"{n} {m.uid}".encode() for n, m in self._live()])

    def _content(self, info: MessageInfo) -> list[bytes] | None:
        content = self.lab.mailboxes.retrieve(self.account, info.uid)
        if content is None:
            self.send("-ERR The message was deleted by another session.")
            return None
        # bytes.splitlines splits at CR, LF and CRLF only.
        return content.splitlines()

    def cmd_RETR(self, arg: str) -> None:
        found = self._message(arg)
        if found:
            lines = self._content(found[1])
            if lines is not None:
                self.send_lines(f"+OK {found[1].size} octets", lines)

    def cmd_TOP(self, arg: str) -> None:
        number, _, count = arg.partition(" ")
        if not count.strip().isdigit():
            self.send("-ERR Syntax: TOP message lines")
            return
        found = self._message(number)
        if found:
            lines = self._content(found[1])
            if lines is not None:
                end = lines.index(b"") if b"" in lines else len(lines)
                self.send_lines("+OK", lines[: end + 1 + int(count)])

    def cmd_DELE(self, arg: str) -> None:
        found = self._message(arg)
        if found:
            self.deleted.add(found[0])
            self.send(f"+OK Message {found[0]} deleted.")

    def cmd_NOOP(self, arg: str) -> None:
        self.send("+OK")

    def cmd_RSET(self, arg: str) -> None:
        self.deleted.clear()
        self.cmd_STAT("")

    def quit(self) -> None:
        if self.account is None:
            self.send("+OK The lab POP3 server signing off.")
            return
        # The UPDATE state: only now are marked messages removed.
        uids = [self.messages[n - 1].uid for n in sorted(self.deleted)]
        if uids:
            self.lab.mailboxes.delete(self.account, uids)
        self.send("+OK The lab POP3 server signing off.")


_TRANSACTION_ONLY = {"STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET"}


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        session = _Session(self.request, self.server)
        self.server.track(session)
        try:
            session.run()
        finally:
            self.server.untrack(session)


class _POP3Listener(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One listening socket; a thread per connection, joined by
    ``server_close()`` (``block_on_close``)."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, sock: socket.socket, lab: "LabPOP3Server", implicit_tls: bool):
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock  # bound and listening already, by the owner
        self.lab = lab
        self.implicit_tls = implicit_tls
        self._sessions: set[_Session] = set()
        self._sessions_lock = threading.Lock()
        self.closing = False

    def get_request(self):
        conn, addr = super().get_request()
        conn.settimeout(_IDLE_TIMEOUT)
        return conn, addr

    def track(self, session: _Session) -> None:
        with self._sessions_lock:
            self._sessions.add(session)
            closing = self.closing
        if closing:
            session.abort()

    def untrack(self, session: _Session) -> None:
        with self._sessions_lock:
            self._sessions.discard(session)

    def abort_sessions(self) -> None:
        with self._sessions_lock:
            self.closing = True
            sessions = list(self._sessions)
        for session in sessions:
            session.abort()


class LabPOP3Server:
    """The two POP3 listeners of the lab (see the module docstring).

    ``validate(token)`` returns the account of a live access token, else
    None (also for a disabled account).
    """

    def __init__(
        self,
        validate: Callable[[str], str | None],
        mailboxes: Mailboxes,
        *,
        plain_sock: socket.socket,
        tls_sock: socket.socket,
        tls_context: ssl.SSLContext,
    ):
        self.validate = validate
        self.mailboxes = mailboxes
        self.tls_context = tls_context
        self.plain_port = plain_sock.getsockname()[1]
        self.tls_port = tls_sock.getsockname()[1]
        self._listeners = [
            _POP3Listener(plain_sock, self, implicit_tls=False),
            _POP3Listener(tls_sock, self, implicit_tls=True),
        ]
        self._threads: list[threading.Thread] = []

    def __repr__(self):
        return f"<LabPOP3Server ports {self.plain_port} (STLS), {self.tls_port} (TLS)>"

    def start(self) -> "LabPOP3Server":
        if self._threads:
            raise RuntimeError("the lab POP3 server is already running")
        for listener in self._listeners:
            thread = threading.Thread(
                target=listener.serve_forever, kwargs={"poll_interval": 0.2},
                name=f"lab-pop3:{listener.server_address[1]}", daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        log.info("lab POP3 ready on ports %d (STLS) and %d (TLS)", self.plain_port, self.tls_port)
        return self

    def stop(self) -> None:
        for listener in self._listeners:
            if self._threads:
                listener.shutdown()
            listener.abort_sessions()
        for thread in self._threads:
            thread.join()
        self._threads = []
        for listener in self._listeners:
            listener.server_close()  # closes the socket, joins connection threads
