"""The lab identity provider: OAuth 2.0 device authorization grant (RFC 8628)
with rotating refresh tokens and OpenID Connect ID tokens, built on Authlib's
server classes and served as a Flask app.

The protocol work is Authlib's: ``DeviceAuthorizationEndpoint`` answers
``/device_authorization``, ``DeviceCodeGrant`` and ``RefreshTokenGrant``
answer ``/token`` (including the RFC 8628 §3.5 errors), ``OpenIDToken`` adds
the signed ``id_token``. This module supplies only what Authlib asks its
users for: the registered client, storage (``store.LabStore``), the
verification URI, the user's decision, and the approval page.

Every URL lives under the issuer, ``https://<host>:<port>/lab``: msal's
``oidc_authority`` must have at least one path segment (it takes the first as
its "tenant") and fetches ``<issuer>/.well-known/openid-configuration``.
``/`` and ``/device`` redirect to the approval page so a person can type the
short address.

The lab controls (``controls``: disabled accounts, tenant faults, revoked or
aged tokens) are read from the lab's SQLite state on every request, so a
control applied by another process takes effect at once. ``style`` chooses
the wording of the errors: the lab's own, or Microsoft's (AADSTS codes).

Injected faults (``controls.inject``; each described there) act in three
places: a ``before_request`` hook delays a request (``hang``) or replaces its
answer (HTTP 500/503, bodies that are not a JSON object, unknown error
codes); the device-code grant answers the poll faults (``access_denied``,
``slow_down``, ``authorization_pending``); the device authorization endpoint
reshapes its answer (members missing or strings). Every answer a fault
touched carries ``X-Lab-Fault: <names>``, for whoever reads the wire.

Thread rules: the Flask app runs on werkzeug's request threads; ``approve``,
``deny``, ``validate_access_token``, ``revoke_account`` and ``refresh_count``
may be called from any thread. A hanging request waits on ``stopping``; the
owner sets it (from any thread) to let every such request end at once. Token requests are serialised by one lock so
that a refresh token is rotated exactly once and a device code yields tokens
exactly once. Nothing here logs a token or a device code; Authlib's own
debug lines that would are filtered out.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)
from authlib.oauth2.rfc8628.errors import (
    AuthorizationPendingError,
    ExpiredTokenError,
    SlowDownError,
)
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDToken
from flask import Flask, g, jsonify, redirect, render_template_string, request
from joserfc.jwk import RSAKey

from . import pages
from .ca import load_or_create_signing_key
from .controls import ENDPOINTS, STYLES, ControlState, InjectedFault, injectable, token_error
from .store import REVOKED, ROTATED, LabStore

__all__ = [
    "LAB_ACCOUNTS",
    "LAB_CLIENT_ID",
    "LAB_SCOPES",
    "ISSUER_PATH",
    "LabIdentityProvider",
    "normalise_user_code",
]

log = logging.getLogger(__name__)

LAB_CLIENT_ID = "panel-lab"
LAB_ACCOUNTS = ("printer@lab.test", "alice@lab.test", "bob@lab.test")
# The lab's own names for "send mail" and "read mail", shaped like
# Microsoft's. Any scope is granted; these are the ones it advertises.
LAB_SCOPES = ("SMTP.Send", "POP.AccessAsUser.All")
ISSUER_PATH = "/lab"

_OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
_REFRESH_LIFETIME = 90 * 24 * 3600  # Microsoft's "90 days unused"

APPROVED = "Approved. You can return to the printer."
DENIED = "Denied."
INVALID_CODE = "That code is not valid or has expired."

# The bodies of injected answers (see ``controls``).
_CUT_OFF_JSON = '{"note": "this answer was cut off half-w'
_JSON_NOT_OBJECT = '["not", "an", "object"]'


def normalise_user_code(text: str | None) -> str | None:
    """``"abcd efgh"`` or ``"ABCD-EFGH"`` -> ``"ABCD-EFGH"``; None if it
    cannot be a user code."""
    letters = re.sub(r"[^A-Za-z]", "", text or "").upper()
    if len(letters) != 8:
        return None
    return f"{letters[:4]}-{letters[4:]}"


# -- Authlib's models --------------------------------------------------------


@dataclass(frozen=True)
class LabUser:
    email: str

    @property
    def sub(self) -> str:
        # Stable across restarts and data directories, so msal's
        # home_account_id for an account never changes.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "panel-lab:" + self.email))

    @property
    def name(self) -> str:
        return self.email.split("@", 1)[0].capitalize()

    def get_user_id(self) -> str:
        return self.sub


class LabClient(ClientMixin):
    """A public client (no secret) allowed the device and refresh grants."""

    def __init__(self, client_id: str):
        self.client_id = client_id

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "none"

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in (DEVICE_CODE_GRANT_TYPE, "refresh_token")


class LabToken:
    """A stored grant as Authlib's RefreshTokenGrant sees it."""

    def __init__(self, record: dict):
        self.record = record

    def get_scope(self):
        # The scope the user approved, not the (maybe narrower) scope of the
        # last access token: refreshing for SMTP must not lose POP.
        return self.record["grant_scope"]

    def check_client(self, client):
        return self.record["client_id"] == client.get_client_id()


# -- Authlib's endpoint and grants, bound to a LabIdentityProvider through
# -- ``server.lab`` because Authlib builds a grant per request. -------------


class _DeviceAuthorization(DeviceAuthorizationEndpoint):
    def __init__(self, server, lab: LabIdentityProvider):
        super().__init__(server)
        self.lab = lab
        self.EXPIRES_IN = lab.device_code_lifetime
        self.INTERVAL = lab.interval

    def get_verification_uri(self):
        return self.lab.device_page_url

    def generate_user_code(self):
        # Authlib's alphabet (BCDFGHJKLMNPQRSTVWXZ) has no vowels, so no
        # words, and no I/O/0/1 look-alikes. Draw again on a collision so a
        # user code names exactly one device code.
        while True:
            code = super().generate_user_code()
            if not self.lab.store.user_code_exists(code):
                return code

    def save_device_credential(self, client_id, scope, data):
        self.lab.store.add_device_code(
            data["device_code"],
            data["user_code"],
            client_id,
            scope,
            time.time() + data["expires_in"],
            data["interval"],
        )

    def create_endpoint_response(self, request):
        status, data, headers = super().create_endpoint_response(request)
        data["message"] = (
            f"To sign in, use a web browser to open the page {data['verification_uri']}"
            f" and enter the code {data['user_code']} to authenticate."
        )
        if status == 200:
            self._reshape(data)
        return status, data, headers

    def _reshape(self, data: dict) -> None:
        """Apply the armed shape faults to a successful answer; the code
        itself keeps its real lifetime and interval."""
        endpoint = "device_authorization"
        taken = self.lab.controls.take_injected(
            endpoint, all_of=injectable("shape", endpoint)
        )
        if "no_verification_uri" in taken:
            del data["verification_uri"]
        for name in ("interval", "expires_in"):
            if f"{name}_as_string" in taken:
                data[name] = str(data[name])
            if f"no_{name}" in taken:
                data.pop(name, None)
        self.lab.note_faults(taken)


class _DeviceCodeGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def validate_device_credential(self, credential):
        lab = self.server.lab
        self._force_pending = False
        if not credential.is_expired():
            self._injected_poll_fault(credential)
        try:
            user = super().validate_device_credential(credential)
        except AuthorizationPendingError:
            if lab.style == "lab":
                raise
            raise lab.token_error("authorization_pending") from None
        except ExpiredTokenError:
            if lab.style == "lab":
                raise
            raise lab.token_error("expired_token") from None
        # What the tenant says once the user has signed in (Microsoft checks
        # these after sign-in, so the poll is pending until then).
        lab.check_tenant(user.email, credential.get_client_id())
        return user

    def _injected_poll_fault(self, credential) -> None:
        """Answer the armed poll fault, if any (polls of a live code only)."""
        lab = self.server.lab
        taken = lab.controls.take_injected("token", one_of=injectable("poll", "token"))
        lab.note_faults(taken)
        if "access_denied" in taken:
            # Denied for good, as a user's Deny is; super() then answers it.
            lab.store.deny_device_code(credential["device_hash"])
        elif "slow_down" in taken:
            # RFC 8628 §3.5: "this and all subsequent requests" wait 5 s more,
            # and the lab's own should_slow_down holds the client to it.
            lab.store.slow_down_device_code(credential["device_hash"], 5)
            raise SlowDownError()
        elif "authorization_pending" in taken:
            self._force_pending = True  # read by query_user_grant

    def query_device_credential(self, device_code):
        record = self.server.lab.store.poll_device_code(device_code)
        if record is None:
            return None
        return DeviceCredentialDict(record)

    def query_user_grant(self, user_code):
        if getattr(self, "_force_pending", False):
            return None  # as if the user had not decided yet
        decision = self.server.lab.store.device_decision(user_code)
        if decision is None or decision[0] == "pending":
            return None
        status, account = decision
        if status == "approved" and account in self.server.lab.accounts:
            return LabUser(account), True
        return None, False

    def should_slow_down(self, credential):
        # msal waits ``interval`` seconds between polls and allows itself one
        # second of skew; only a client polling faster than that is told to
        # slow down.
        previous = credential.get("last_poll")
        if previous is None:
            return False
        return time.time() - previous < credential["interval"] - 1


class _RefreshTokenGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate on every use

    def validate_token_request(self):
        lab = self.server.lab
        client_id = self.request.form.get("client_id", "")
        # Client rules come before the grant: a public client refused is
        # refused whatever refresh token it holds.
        if "public_client_disabled" in lab.controls.faults():
            raise lab.token_error("public_client_disabled", client_id=client_id)
        super().validate_token_request()
        lab.check_tenant(self.request.refresh_token.record["account"], client_id)

    def authenticate_refresh_token(self, refresh_token):
        lab = self.server.lab
        record = lab.store.live_refresh(refresh_token)
        if record:
            return LabToken(record)
        # Say why it is dead, as Microsoft does.
        dead = lab.store.refresh_record(refresh_token)
        if dead is None or dead["refresh_revoked"] == ROTATED:
            raise lab.token_error("refresh_invalid")
        if dead["refresh_revoked"] == REVOKED:
            raise lab.token_error("refresh_revoked", issued=dead["issued_at"])
        raise lab.token_error("refresh_expired", issued=dead["issued_at"])

    def authenticate_user(self, refresh_token):
        account = refresh_token.record["account"]
        return LabUser(account) if account in self.server.lab.accounts else None

    def revoke_old_credential(self, refresh_token):
        self.server.lab.store.revoke_refresh(refresh_token.record["refresh_hash"])
        self.server.lab._count_refresh()


class _LabIdToken(OpenIDToken):
    """Adds a signed ``id_token`` to token answers whose scope has openid;
    msal builds its account (``username`` = preferred_username) from it."""

    def __init__(self, lab: LabIdentityProvider):
        self.lab = lab

    def resolve_client_private_key(self, client):
        return self.lab.signing_key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "typ": "JWT", "kid": self.lab.signing_key.kid}

    def get_client_claims(self, client):
        return {"iss": self.lab.issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user, scope):
        return UserInfo(
            sub=user.sub,
            name=user.name,
            preferred_username=user.email,
            email=user.email,
        )


# -- the provider --------------------------------------------------------------


class _NoTokenInLogs(logging.Filter):
    """Drop Authlib's debug lines that print a whole token answer."""

    def filter(self, record):
        return not str(record.msg).startswith(("Issue token", "Grant token"))


class _LabTokenError(OAuth2Error):
    """An error answer of the token endpoint with the exact body of
    ``controls.token_error`` (Microsoft's carries more than Authlib's three
    fields)."""

    def __init__(self, status: int, body: dict):
        super().__init__(
            description=body.get("error_description"), status_code=status, error=body["error"]
        )
        self.body = body

    def get_body(self):
        return list(self.body.items())


for _name in (
    "authlib.oauth2.rfc8628.device_code",
    "authlib.oauth2.rfc6749.grants.refresh_token",
):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _NoTokenInLogs) for f in _logger.filters):
        _logger.addFilter(_NoTokenInLogs())


class LabIdentityProvider:
    """Authlib authorization server + Flask app of one lab.

    ``issuer`` is set by the owner once the listening port is known (the
    LabServer does it before it serves a request).
    """

    def __init__(
        self,
        lab_dir: Path | str,
        *,
        token_lifetime: int = 3600,
        device_code_lifetime: int = 900,
        interval: int = 5,
        refresh_lifetime: int = _REFRESH_LIFETIME,
        accounts=LAB_ACCOUNTS,
        client_ids=(LAB_CLIENT_ID,),
        style: str = "lab",
    ):
        """``style`` is the wording of error answers: ``"lab"`` (plain OAuth
        errors) or ``"microsoft"`` (AADSTS codes and texts)."""
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        for name, value in (
            ("token_lifetime", token_lifetime),
            ("device_code_lifetime", device_code_lifetime),
            ("interval", interval),
            ("refresh_lifetime", refresh_lifetime),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1 second, not {value!r}")
        self.lab_dir = Path(lab_dir)
        self.token_lifetime = int(token_lifetime)
        self.device_code_lifetime = int(device_code_lifetime)
        self.interval = int(interval)
        self.refresh_lifetime = int(refresh_lifetime)
        self.accounts = tuple(accounts)
        self.clients = {cid: LabClient(cid) for cid in client_ids}
        self.style = style
        self.issuer: str | None = None

        self.store = LabStore(self.lab_dir / "lab.db")
        self.controls = ControlState(self.lab_dir / "lab.db")
        self.signing_key = RSAKey.import_key(load_or_create_signing_key(self.lab_dir))
        self.signing_key.ensure_kid()  # RFC 7638 thumbprint

        self._token_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._refresh_count = 0
        # Set by the owner when it stops: hanging requests end at once.
        self.stopping = threading.Event()

        self.app = self._create_app()

    # -- hooks for owners and tests ------------------------------------------

    @property
    def device_page_url(self) -> str:
        return f"{self.issuer}/device"

    @property
    def refresh_count(self) -> int:
        with self._count_lock:
            return self._refresh_count

    def _count_refresh(self) -> None:
        with self._count_lock:
            self._refresh_count += 1

    def approve(self, user_code: str, account: str) -> bool:
        """Approve a pending code for ``account``, as the page does; False if
        the code is unknown, expired or already decided."""
        if account not in self.accounts:
            raise ValueError(f"{account!r} is not a lab account")
        code = normalise_user_code(user_code)
        return bool(code) and self.store.decide(code, True, account)

    def deny(self, user_code: str) -> bool:
        """Deny a pending code, as the page does; False as for ``approve``."""
        code = normalise_user_code(user_code)
        return bool(code) and self.store.decide(code, False, None)

    def validate_access_token(self, token: str) -> str | None:
        """The account e-mail of a live, unexpired, unrevoked access token
        issued by this lab, else None."""
        if not isinstance(token, str) or not token:
            return None
        record = self.store.live_access(token)
        if record is None or record["account"] not in self.accounts:
            return None
        if self.controls.is_disabled(record["account"]):
            return None
        return record["account"]

    def token_error(self, kind: str, **details) -> OAuth2Error:
        """The token endpoint's error ``kind`` (``controls.TOKEN_ERRORS``) in
        this provider's style, ready to raise inside a grant."""
        return _LabTokenError(*token_error(kind, self.style, **details))

    def check_tenant(self, account: str, client_id: str) -> None:
        """Raise the error the tenant's state calls for when ``account``
        gets tokens for ``client_id``; read afresh on every request."""
        faults = self.controls.faults()
        if "public_client_disabled" in faults:
            raise self.token_error("public_client_disabled", client_id=client_id)
        if self.controls.is_disabled(account):
            raise self.token_error("account_disabled")
        if "consent_required" in faults:
            raise self.token_error("consent_required", client_id=client_id)

    def revoke_account(self, account: str) -> int:
        """Revoke every token of ``account`` (its refresh then answers
        ``invalid_grant``); return how many grants were live."""
        return self.store.revoke_account(account)

    # -- injected faults (see ``controls``) ------------------------------------

    @staticmethod
    def note_faults(taken) -> None:
        """Remember, for the ``X-Lab-Fault`` header, the injected faults
        that acted on this request (request context only)."""
        if taken:
            g.setdefault("lab_faults", []).extend(taken)

    def _injected_request_faults(self, endpoint: str):
        """The ``before_request`` part: delay, then maybe replace the answer."""
        taken = self.controls.take_injected(
            endpoint,
            all_of=injectable("delay", endpoint),
            one_of=injectable("answer", endpoint),
        )
        self.note_faults(taken)
        hang = taken.pop("hang", None)
        if hang is not None and self.stopping.wait(hang.seconds):
            # The lab is stopping and has cut the connection: end here.
            return jsonify({"error": "temporarily_unavailable"}), 503
        for name, fault in taken.items():
            return self._injected_answer(name, fault)
        return None

    def _injected_answer(self, name: str, fault: InjectedFault):
        if name == "http_500":
            return jsonify({
                "error": "server_error",
                "error_description": "The server encountered an unexpected error.",
            }), 500
        if name == "http_503":
            body = jsonify({
                "error": "temporarily_unavailable",
                "error_description": "The server is temporarily too busy. Retry later.",
            })
            return body, 503, {"Retry-After": str(round(fault.seconds))}
        if name == "not_json":
            return _CUT_OFF_JSON, 200, {"Content-Type": "application/json"}
        if name == "json_not_object":
            return _JSON_NOT_OBJECT, 200, {"Content-Type": "application/json"}
        if name == "unknown_error":
            return jsonify({
                "error": "teapot_error",
                "error_description": "An error no specification defines.",
            }), 400
        raise AssertionError(f"no answer for injected fault {name!r}")

    def metadata(self) -> dict:
        issuer = self.issuer
        return {
            "issuer": issuer,
            # msal insists on an authorization endpoint in the discovery
            # document; the lab's answers a page saying it is not supported.
            "authorization_endpoint": f"{issuer}/authorize",
            "device_authorization_endpoint": f"{issuer}/device_authorization",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "grant_types_supported": [DEVICE_CODE_GRANT_TYPE, "refresh_token"],
            "scopes_supported": [*_OIDC_SCOPES, *LAB_SCOPES],
            # No response type is served at the authorization endpoint.
            "response_types_supported": ["none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "name", "preferred_username", "email"],
        }

    # -- Authlib wiring ---------------------------------------------------------

    def _query_client(self, client_id):
        return self.clients.get(client_id)

    def _save_token(self, token, oauth_request):
        now = time.time()
        previous = getattr(oauth_request, "refresh_token", None)
        if isinstance(previous, LabToken):
            grant_scope = previous.get_scope()
        else:
            grant_scope = oauth_request.credential.get_scope()
            # A device code yields tokens once; it is spent now.
            self.store.consume_device_code(oauth_request.payload.data.get("device_code", ""))
        refresh = token.get("refresh_token")
        self.store.save_token(
            access_token=token["access_token"],
            refresh_token=refresh,
            client_id=oauth_request.client.get_client_id(),
            account=oauth_request.user.email,
            scope=token.get("scope", ""),
            grant_scope=grant_scope or token.get("scope", ""),
            access_expires_at=now + token["expires_in"],
            refresh_expires_at=now + self.refresh_lifetime if refresh else None,
        )

    def _create_authorization_server(self, app: Flask) -> AuthorizationServer:
        server = AuthorizationServer(app, query_client=self._query_client, save_token=self._save_token)
        server.lab = self
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **_: secrets.token_urlsafe(48),
                expires_generator=lambda client, grant_type: self.token_lifetime,
            ),
        )
        id_token = _LabIdToken(self)
        server.register_grant(_DeviceCodeGrant, [id_token])
        server.register_grant(_RefreshTokenGrant, [id_token])
        server.register_endpoint(_DeviceAuthorization(server, self))
        return server

    def _create_app(self) -> Flask:
        app = Flask(__name__)
        server = self._create_authorization_server(app)
        p = ISSUER_PATH

        @app.get(f"{p}/.well-known/openid-configuration")
        def discovery():
            return jsonify(self.metadata())

        @app.get(f"{p}/jwks")
        def jwks():
            public = self.signing_key.as_dict(private=False, use="sig", alg="RS256")
            return jsonify({"keys": [public]})

        @app.post(f"{p}/device_authorization")
        def device_authorization():
            return server.create_endpoint_response(DeviceAuthorizationEndpoint.ENDPOINT_NAME)

        @app.post(f"{p}/token")
        def token():
            with self._token_lock:
                return server.create_token_response()

        @app.get(f"{p}/authorize")
        def authorize():
            body = render_template_string(
                pages.NOT_SUPPORTED_PAGE, title="Not supported", device_page=self.device_page_url
            )
            return body, 400

        @app.get(f"{p}/device")
        def device_page():
            code = request.args.get("user_code", "")
            return self._approval_form(normalise_user_code(code) or code[:9])

        @app.post(f"{p}/device")
        def device_decision():
            raw_code = request.form.get("user_code", "")
            action = request.form.get("action", "")
            account = request.form.get("account", "")
            code = normalise_user_code(raw_code)
            if code is None or self.store.pending_code(code) is None:
                return self._result(INVALID_CODE, 400)
            if action == "deny":
                return self._result(DENIED) if self.deny(code) else self._result(INVALID_CODE, 400)
            if action != "approve":
                return self._approval_form(code, error="Press Approve or Deny.", status=400)
            if account not in self.accounts:
                return self._approval_form(code, error="Choose the account to sign in with.", status=400)
            if self.approve(code, account):
                return self._result(APPROVED)
            return self._result(INVALID_CODE, 400)

        # Short addresses a person may type on a phone.
        @app.get("/")
        @app.get("/device")
        def short_device_page():
            target = self.device_page_url
            if request.query_string:
                target += "?" + request.query_string.decode("ascii", "replace")
            return redirect(target, code=302)

        @app.before_request
        def injected_faults():
            # The view functions above are named after ENDPOINTS.
            if request.endpoint in ENDPOINTS:
                return self._injected_request_faults(request.endpoint)
            return None

        @app.after_request
        def no_store(response):
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            if g.get("lab_faults"):
                response.headers["X-Lab-Fault"] = ", ".join(g.lab_faults)
            return response

        return app

    def _approval_form(self, code: str, *, error: str | None = None, status: int = 200):
        body = render_template_string(
            pages.APPROVAL_PAGE,
            title="Sign in",
            action=f"{ISSUER_PATH}/device",
            user_code=code,
            accounts=self.accounts,
            # The printer's own account is the usual choice in a demonstration.
            selected=self.accounts[0],
            error=error,
        )
        return body, status

    def _result(self, message: str, status: int = 200):
        body = render_template_string(
            pages.RESULT_PAGE,
            title=message.split(".")[0],
            message=message,
            again=f"{ISSUER_PATH}/device" if message != APPROVED else None,
        )
        return body, status

