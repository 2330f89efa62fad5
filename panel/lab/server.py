"""LabServer: the lab identity provider on loopback HTTPS, in a background
thread, modelled on aiosmtpd's Controller, with the lab's SMTP server
(``smtp``: STARTTLS and implicit TLS listeners) and POP3 server (``pop3``:
STLS and implicit TLS listeners) on the same host, which accept XOAUTH2 with
tokens this identity provider issued.

``start()`` binds the port, serves werkzeug's threaded server in a thread and
returns only once an HTTPS request to the JSON Web Key Set has succeeded
(not the discovery document: an injected fault may be armed on it);
any start error (port in use, bad certificate files) is raised from
``start()``, which then starts the mail servers (and stops everything if one
fails). ``stop()`` shuts the servers down, cuts open connections (so no
client keeps talking to a stopped lab), wakes requests held by an injected
``hang`` and joins every thread, request threads included (waiting at most
about a second for those). On start it
writes ``<data_dir>/lab/endpoints.json`` (issuer, CA file, pid, host and the
four mail ports) for other processes and removes it on stop;
``<data_dir>/lab/port`` remembers the port so that a restarted lab keeps its
issuer URL, and with it every token cached for that issuer;
``<data_dir>/lab/mail_ports.json`` does the same for the mail ports.

The lab controls (expire or revoke tokens, disable accounts, tenant faults,
injected faults) are ``controls`` functions on the data directory; the
methods here delegate to them, and they work as well on a lab running in
another process. Certificate faults are chosen at start instead:
``tls_fault="expired"`` serves a certificate of the lab CA that has expired,
``tls_fault="untrusted"`` one signed by another CA (see ``ca``), on every
listener (HTTPS, SMTP, POP3); ``ca_file`` is still the lab CA.

Thread rules: ``start()`` and ``stop()`` are called from one owner thread,
not concurrently. The test hooks (``approve``, ``deny``,
``validate_access_token``, ``revoke_account``, ``refresh_count``) and the
controls may be called from any thread. Request handlers run on werkzeug's
threads; no request line, token or device code is logged unless
``log_requests=True``, and even then only method, path (no query string) and
status. The mail servers' thread rules are in ``smtp`` and ``pop3``.
"""

from __future__ import annotations

import errno
import fcntl
import http.client
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import time
from pathlib import Path

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from . import controls
from .ca import TLS_FAULTS, ensure_tls_files, fault_tls_files, write_atomic
from .idp import ISSUER_PATH, LAB_ACCOUNTS, LabIdentityProvider
from .mailbox import Mailboxes
from .pop3 import LabPOP3Server
from .smtp import LabSMTPHandler, LabSMTPServer

__all__ = ["LabServer", "read_endpoints"]

log = logging.getLogger(__name__)
http_log = logging.getLogger("panel.lab.http")

_WILDCARDS = {"0.0.0.0", "::", ""}
_READY_TIMEOUT = 10.0
# How long stop() waits for request threads once their connections are cut.
_HANDLER_JOIN_TIMEOUT = 1.0
# The mail listeners, as named in endpoints.json (``<name>_port``).
MAIL_LISTENERS = ("smtp", "smtps", "pop3", "pop3s")


def _lab_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "lab"


def read_endpoints(data_dir: Path | str) -> dict | None:
    """The endpoints a running lab published for ``data_dir``
    (``{"issuer", "ca_file", "pid"}``, and from a lab with mail servers
    ``"host"``, ``"smtp_port"`` (STARTTLS), ``"smtps_port"`` (implicit TLS),
    ``"pop3_port"`` (STLS) and ``"pop3s_port"`` (implicit TLS)), or None when
    no lab is running there (no file, an unreadable one, or one left by a
    process that has gone)."""
    path = _lab_dir(data_dir) / "endpoints.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not {"issuer", "ca_file", "pid"} <= data.keys():
        return None
    if not _pid_alive(data["pid"]):
        return None
    return data


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler, with the TLS handshake moved onto the request
    thread, a timeout, and its logging sent to ``panel.lab.http``."""

    # A client that connects and then says nothing is dropped after this.
    timeout = 30
    log_requests = False

    def handle(self):
        # The listening socket does not handshake in accept() (that would
        # let one silent client stall every other): do it here, where a
        # failure (plain http, an untrusting client) ends this connection.
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            http_log.debug("TLS handshake with %s failed: %s", self.client_address[0], exc)
            self.close_connection = True
            return
        super().handle()

    def log_request(self, code="-", size="-"):
        if self.log_requests:
            path = getattr(self, "path", "") or ""
            http_log.info("%s %s %s", getattr(self, "command", "-"), path.split("?", 1)[0], code)

    def log_error(self, format, *args):
        http_log.debug("request error: " + format, *args)

    def log_message(self, format, *args):
        http_log.debug(format, *args)

    def log(self, type, message, *args):
        http_log.debug(message.rstrip(), *args)


class _LabWSGIServer(ThreadedWSGIServer):
    """Keeps track of open connections and of the threads serving them, so
    ``stop()`` can close the ones and join the others."""

    def __init__(self, *args, **kwargs):
        self._connections: set = set()
        self._handler_threads: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        # ThreadingMixIn's, but with every thread remembered: werkzeug makes
        # them daemons, which socketserver then neither tracks nor joins.
        with self._connections_lock:
            self._connections.add(request)
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address),
            name=f"lab-http:{self.port}", daemon=True,
        )
        with self._connections_lock:
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._handler_threads.discard(threading.current_thread())

    def join_handlers(self, timeout: float) -> list[threading.Thread]:
        """Join the request threads for at most ``timeout`` seconds in all;
        return those still alive."""
        deadline = time.monotonic() + timeout
        with self._connections_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                # On the plain socket level: the handler thread may be inside
                # an SSL read on it, and this makes that read end.
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass

    def log(self, type, message, *args):
        http_log.debug(message, *args)


class LabBusy(OSError):
    """Another lab already runs with this data directory."""


class LabServer:
    """The lab identity provider on ``https://<host>:<port>/lab``, and its
    SMTP and POP3 servers.

    ``LabServer(data_dir).start()`` or ``with LabServer(data_dir) as lab:``.
    Attributes once started: ``issuer``, ``port``, ``ca_file``,
    ``smtp_port`` (STARTTLS), ``smtps_port`` (implicit TLS), ``pop3_port``
    (STLS), ``pop3s_port`` (implicit TLS), ``cert_file`` (the certificate
    served, broken on purpose with ``tls_fault``). ``mailboxes`` holds the
    lab's mail.
    """

    def __init__(
        self,
        data_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3600,
        device_code_lifetime: int = 900,
        interval: int = 5,
        *,
        allow_remote: bool = False,
        public_host: str | None = None,
        log_requests: bool = False,
        smtp_port: int = 0,
        smtps_port: int = 0,
        pop3_port: int = 0,
        pop3s_port: int = 0,
        style: str = "lab",
        tls_fault: str | None = None,
    ):
        """``host`` is the address to listen on; a non-loopback one needs
        ``allow_remote=True`` (for a phone on the LAN). ``public_host`` is
        the name or address put in the issuer URL and the certificate
        (default ``host``; needed when listening on a wildcard). The mail
        servers listen on the same host; a port of 0 means the one this lab
        had last time, else any free one. ``style`` words the identity
        provider's errors: ``"lab"``, or ``"microsoft"`` (AADSTS codes).
        ``tls_fault`` (``"expired"`` or ``"untrusted"``) serves a broken
        certificate instead of the good one, to see clients refuse it."""
        mail_ports = dict(zip(MAIL_LISTENERS, (smtp_port, smtps_port, pop3_port, pop3s_port)))
        for name, value in {"port": port, **{f"{n}_port": v for n, v in mail_ports.items()}}.items():
            if not 0 <= int(value) <= 65535:
                raise ValueError(f"{name} must be 0..65535, not {value!r}")
        if not _is_loopback(host) and not allow_remote:
            raise ValueError(
                f"the lab listens on loopback only; {host!r} needs allow_remote=True"
            )
        if tls_fault is not None and tls_fault not in TLS_FAULTS:
            raise ValueError(f"tls_fault must be one of {', '.join(TLS_FAULTS)}, not {tls_fault!r}")
        public_host = public_host or host
        if public_host in _WILDCARDS:
            raise ValueError("listening on a wildcard address needs public_host= (the address phones use)")
        self.data_dir = Path(data_dir)
        self.lab_dir = _lab_dir(data_dir)
        self.host = host
        self.public_host = public_host
        self.requested_port = int(port)
        self.requested_mail_ports = {name: int(value) for name, value in mail_ports.items()}
        self.allow_remote = allow_remote
        self.log_requests = log_requests
        self.idp = LabIdentityProvider(
            self.lab_dir,
            token_lifetime=token_lifetime,
            device_code_lifetime=device_code_lifetime,
            interval=interval,
            style=style,
        )
        self.style = style
        self.tls_fault = tls_fault
        self.accounts: list[str] = list(LAB_ACCOUNTS)
        self.mailboxes = Mailboxes(self.lab_dir / "lab.db", self.accounts)
        self.issuer: str | None = None
        self.port: int | None = None
        self.ca_file: Path | None = None
        # The certificate served: the lab's, or a broken one (``tls_fault``).
        self.cert_file: Path | None = None
        self._lock_fd: int | None = None
        self.smtp_port: int | None = None
        self.smtps_port: int | None = None
        self.pop3_port: int | None = None
        self.pop3s_port: int | None = None
        self._server: _LabWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._smtp: LabSMTPServer | None = None
        self._pop3: LabPOP3Server | None = None

    def __repr__(self):
        state = self.issuer if self._thread else "stopped"
        return f"<LabServer {state} data_dir={str(self.data_dir)!r}>"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> "LabServer":
        if self._thread is not None:
            raise RuntimeError("the lab is already running")
        self._hold_lock()
        try:
            return self._start()
        except BaseException:
            self._release_lock()
            raise

    def _hold_lock(self) -> None:
        """One lab per data directory: a second one would overwrite the
        first one's endpoints and ports. The lock dies with the process."""
        self.lab_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lab_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LabBusy(errno.EBUSY, "another lab is already running with this data directory") from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def _start(self) -> "LabServer":
        if self.allow_remote and not _is_loopback(self.host):
            log.warning(
                "the lab identity provider listens on %s: anyone who can reach it can"
                " approve device codes for the lab accounts", self.host,
            )
        extra_hosts = [h for h in (self.host, self.public_host) if h not in _WILDCARDS]
        tls = ensure_tls_files(self.lab_dir, extra_hosts)
        served = fault_tls_files(self.lab_dir, self.tls_fault, extra_hosts) if self.tls_fault else tls
        if self.tls_fault:
            log.warning("the lab serves a broken certificate on purpose (tls_fault=%s)", self.tls_fault)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(served.cert_file, served.key_file)
        armed = controls.ControlState(self.lab_dir / "lab.db").injected()
        if armed:
            log.warning(
                "injected faults still armed in this lab: %s (clear them with reset)",
                ", ".join(sorted({f.fault for f in armed})),
            )

        sock = self._bind()
        try:
            port = sock.getsockname()[1]
            handler = type("LabRequestHandler", (_QuietHandler,), {"log_requests": self.log_requests})
            # What make_server(threaded=True) builds, as a subclass that can
            # cut keep-alive connections on stop; on a socket bound here so
            # that "port in use" is an OSError, not werkzeug's sys.exit(1).
            server = _LabWSGIServer(self.host, port, self.idp.app, handler, fd=sock.fileno())
        finally:
            sock.close()  # werkzeug serves a duplicate of it
        # TLS, but without the handshake in accept(): see _QuietHandler.handle.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.ssl_context = context  # werkzeug: wsgi.url_scheme = https

        self.port = port
        self.ca_file = tls.ca_file
        self.cert_file = served.cert_file
        self.issuer = f"https://{_url_host(self.public_host)}:{port}{ISSUER_PATH}"
        self.idp.issuer = self.issuer
        self.idp.stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"lab-idp:{port}", daemon=True,
        )
        self._thread.start()
        try:
            self._wait_ready(tls.ca_file)
            self._start_mail(context)
        except BaseException:
            self._shutdown()
            raise
        write_atomic(self.lab_dir / "port", f"{port}\n")
        write_atomic(
            self.lab_dir / "mail_ports.json",
            json.dumps({name: getattr(self, f"{name}_port") for name in MAIL_LISTENERS}),
        )
        write_atomic(
            self.lab_dir / "endpoints.json",
            json.dumps({
                "issuer": self.issuer, "ca_file": str(self.ca_file), "pid": os.getpid(),
                "host": self.public_host, "tls_fault": self.tls_fault,
                **{f"{name}_port": getattr(self, f"{name}_port") for name in MAIL_LISTENERS},
            }),
        )
        log.info("lab identity provider ready at %s", self.issuer)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        try:
            (self.lab_dir / "endpoints.json").unlink()
        except FileNotFoundError:
            pass
        self._shutdown()
        self._release_lock()
        log.info("lab stopped")

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- hooks (any thread) --------------------------------------------------

    def approve(self, user_code: str, account: str) -> bool:
        """Approve a pending user code for ``account``, as the page does."""
        return self.idp.approve(user_code, account)

    def deny(self, user_code: str) -> bool:
        """Deny a pending user code, as the page does."""
        return self.idp.deny(user_code)

    def validate_access_token(self, token: str) -> str | None:
        """The account e-mail of a live access token issued by this lab."""
        return self.idp.validate_access_token(token)

    def revoke_account(self, account: str) -> int:
        """Revoke all tokens of ``account``; its next refresh fails."""
        return self.idp.revoke_account(account)

    @property
    def refresh_count(self) -> int:
        """Refresh grants served since this LabServer object was made."""
        return self.idp.refresh_count

    # -- controls (any thread; see ``controls``) ------------------------------

    def expire_all(self, account: str | None = None) -> int:
        """Expire every live access token (of ``account``) now."""
        return controls.expire_all(self.data_dir, account)

    def revoke_refresh_tokens(self, account: str | None = None) -> int:
        """Revoke every live refresh token (of ``account``)."""
        return controls.revoke_refresh_tokens(self.data_dir, account)

    def expire_refresh_tokens(self, account: str | None = None) -> int:
        """Age every live refresh token (of ``account``) past its lifetime."""
        return controls.expire_refresh_tokens(self.data_dir, account)

    def disable_account(self, account: str) -> bool:
        return controls.disable_account(self.data_dir, account)

    def enable_account(self, account: str) -> bool:
        return controls.enable_account(self.data_dir, account)

    def set_fault(self, name: str, on: bool = True) -> bool:
        """Switch a tenant fault (``controls.FAULTS``) on or off."""
        return controls.set_fault(self.data_dir, name, on)

    def clear_fault(self, name: str) -> bool:
        return controls.clear_fault(self.data_dir, name)

    def reset_controls(self) -> None:
        """No faults (tenant or injected), every account enabled."""
        controls.reset(self.data_dir)

    def inject(self, fault: str, endpoint: str | None = None, count: int | None = None,
               seconds: float | None = None) -> controls.InjectedFault:
        """Arm an injected fault (``controls.INJECTABLE``); see ``controls.inject``."""
        return controls.inject(self.data_dir, fault, endpoint, count, seconds)

    def clear_faults(self, fault: str | None = None) -> int:
        """Disarm one injected fault, or all of them."""
        return controls.clear_faults(self.data_dir, fault)

    def injected(self) -> list[controls.InjectedFault]:
        return controls.injected(self.data_dir)

    # -- internals ---------------------------------------------------------------

    def _bind(self) -> socket.socket:
        return self._bind_port(self.requested_port, self._remembered_port())

    def _bind_port(self, requested: int, remembered: int | None) -> socket.socket:
        if requested == 0 and remembered:
            try:
                return self._listen(remembered)
            except OSError as exc:
                log.info("lab port %d is not available (%s); using another one", remembered, exc)
        return self._listen(requested)

    def _remembered_mail_ports(self) -> dict:
        try:
            data = json.loads((self.lab_dir / "mail_ports.json").read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, int) and 0 < v <= 65535}

    def _start_mail(self, context: ssl.SSLContext) -> None:
        remembered = self._remembered_mail_ports()
        socks: dict[str, socket.socket] = {}
        try:
            for name in MAIL_LISTENERS:
                socks[name] = self._bind_port(self.requested_mail_ports[name], remembered.get(name))
            validate = self.idp.validate_access_token
            self._smtp = LabSMTPServer(
                LabSMTPHandler(validate, self.mailboxes, self.idp.controls.faults),
                starttls_sock=socks["smtp"], tls_sock=socks["smtps"], tls_context=context,
                hostname=self.public_host,
            )
            self._pop3 = LabPOP3Server(
                validate, self.mailboxes,
                plain_sock=socks["pop3"], tls_sock=socks["pop3s"], tls_context=context,
            )
        except BaseException:
            for sock in socks.values():
                sock.close()
            self._smtp = self._pop3 = None
            raise
        for name, sock in socks.items():
            setattr(self, f"{name}_port", sock.getsockname()[1])
        self._smtp.start()
        self._pop3.start()

    def _listen(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            # Lets a restarted lab take back its port while the old
            # connections sit in TIME_WAIT; two listeners still cannot share it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]"), port))
            sock.listen(128)
        except BaseException:
            sock.close()
            raise
        return sock

    def _remembered_port(self) -> int | None:
        try:
            port = int((self.lab_dir / "port").read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port <= 65535 else None

    def _wait_ready(self, ca_file: Path) -> None:
        if self.tls_fault:
            # The certificate is meant to fail verification: only check
            # that the server answers.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=str(ca_file))
        probe_host = "127.0.0.1" if self.host in _WILDCARDS else self.host.strip("[]")
        if self.host == "::":
            probe_host = "::1"
        conn = http.client.HTTPSConnection(
            probe_host, self.port, context=context, timeout=_READY_TIMEOUT
        )
        try:
            conn.request("GET", f"{ISSUER_PATH}/jwks")
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"the lab identity provider answered {response.status} at start")

    def _shutdown(self) -> None:
        smtp, pop3 = self._smtp, self._pop3
        self._smtp = self._pop3 = None
        if smtp is not None:
            smtp.stop()
        if pop3 is not None:
            pop3.stop()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_connections()
            # A hanging request ends now, on a connection already cut (so
            # no client takes its last-moment answer for the lab's).
            self.idp.stopping.set()
        if thread is not None:
            thread.join()
        if server is not None:
            left = server.join_handlers(_HANDLER_JOIN_TIMEOUT)
            if left:
                log.warning("%d lab request thread(s) still running after stop", len(left))
            server.server_close()

