"""The provider's answers and what the administrator is told for each.

One table, so the screen, the command line and the README say the same
thing. Each row matches an OAuth error code and, for Microsoft, the AADSTS
number inside its description (public Microsoft identity platform and RFC 8628
documentation; see shared/reference/provider-answers.md). The provider's own
description text is never shown: it can be long, cryptic or localised.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl

import msal
import requests

AGAIN = "Press Get Token to try again."
# How a message ends: after a failed Get Token, or after a failed renewal
# (where the token is still held and Get Token is not possible).
GET_TOKEN_AGAIN = "press Get Token again"
TRY_AGAIN = "try again"

# (error, AADSTS code or None, message)
TOKEN_ANSWERS: list[tuple[str, str | None, str]] = [
    ("authorization_declined", None, "The sign-in was declined on the provider's page. " + AGAIN),
    ("access_denied", None, "The sign-in was declined on the provider's page. " + AGAIN),
    ("expired_token", None, "The code expired before it was approved. " + AGAIN),
    ("bad_verification_code", None, "The provider did not recognise the code. " + AGAIN),
    ("no_verification_uri", None, "The provider sent a code but no address to enter it at. Check the provider "
     "settings, then {then}."),
    ("invalid_client", "7000218", "The app registration does not allow public client flows: in Microsoft Entra, "
     "set 'Allow public client flows' to Yes for this application, then {then}."),
    ("invalid_client", "700016", "The Client ID is not an application in this tenant: check Client ID and Tenant."),
    ("invalid_request", "90002", "The tenant was not found: check Tenant."),
    ("invalid_request", "50059", "The tenant was not found: check Tenant."),
    ("invalid_grant", "65001", "The mail permissions have not been consented: an administrator must grant "
     "consent to SMTP.Send and POP.AccessAsUser.All for this application, then {then}."),
    ("server_error", None, "The provider reported a server error. Wait a few minutes, then {then}."),
    ("temporarily_unavailable", None, "The provider is temporarily unavailable. Wait a few minutes, then {then}."),
    ("invalid_client", None, "The provider does not know this Client ID: check Client ID."),
    ("invalid_scope", None, "The provider refused the requested scopes: check Scopes."),
    ("unauthorized_client", None, "This application may not use the device sign-in: check the app registration."),
]


# Renewal answers that mean the token can no longer be used: Invalid.
REFUSALS = frozenset({"invalid_grant", "interaction_required", "invalid_client", "unauthorized_client"})
TOKEN_UPDATE_FAILED = "Token update failed. Please delete the token and obtain it again."

# (AADSTS code, why) for refused renewals (Entra "refresh tokens" doc and error reference).
REFUSAL_REASONS: list[tuple[str, str]] = [
    ("700082", "The sign-in expired after 90 days without use."),
    ("50173", "The sign-in was revoked (for example, the password was changed)."),
    ("70043", "The sign-in expired under the tenant's sign-in frequency policy."),
    ("50057", "The account is disabled."),
    ("50053", "The account is locked."),
    ("65001", "The mail permissions are no longer consented."),
]


def _aadsts(answer: dict) -> set[str]:
    description = str(answer.get("error_description", ""))
    return set(re.findall(r"AADSTS(\d+)", description)) | {str(c) for c in answer.get("error_codes", [])}


def explain_refusal(answer: dict) -> str:
    """Why the provider refused to renew the token, when it said so."""
    codes = _aadsts(answer)
    for code, why in REFUSAL_REASONS:
        if code in codes:
            return why
    if answer.get("error") == "invalid_grant":
        return "The provider no longer accepts this sign-in (expired, revoked, or the account is unavailable)."
    return ""


def explain_error(answer: dict, then: str = GET_TOKEN_AGAIN) -> str:
    """The message for an OAuth error answer (a dict with 'error'), ending in `then`."""
    error = answer.get("error", "")
    codes = _aadsts(answer)
    for row_error, code, message in TOKEN_ANSWERS:
        if row_error == error and code is not None and code in codes:
            return message.format(then=then)
    for row_error, code, message in TOKEN_ANSWERS:
        if row_error == error and code is None:
            return message.format(then=then)
    label = error if re.fullmatch(r"[a-z_]{1,64}", error or "") else "unknown error"
    return f"The provider refused the request ({label}). Check the provider settings, then {then}."


def explain_exception(exc: BaseException, where: str, then: str = GET_TOKEN_AGAIN) -> str:
    """The message for a failure to talk to the provider at `where` (a host), ending in `then`."""
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(exc, ssl.SSLError):
        return (f"The certificate of {where} is not trusted. If it uses a private CA, add that CA "
                "under Extra CA certificates (tls.ca_bundle).")
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer in time. Check the network, then {then}."
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"Could not reach {where}. Check the network and the provider address, then {then}."
    if isinstance(exc, (requests.exceptions.HTTPError, msal.exceptions.MsalServiceError)):
        return f"{where} reported a server error. Wait a few minutes, then {then}."
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return (f"{where} did not give a usable answer: it may be down, or not an OpenID provider with "
                f"device sign-in. Check the provider address, then {then}.")
    return f"Talking to {where} failed. Check the provider settings, then {then}."


# -- mail servers ----------------------------------------------------------------
# (reply code, text that must appear in the reply, message, is the token at fault)
# Exchange Online answers: "Authenticate an IMAP, POP or SMTP connection using
# OAuth", "Authenticated client SMTP submission", and the NDR reference.
SMTP_ANSWERS: list[tuple[int, str, str, bool]] = [
    (535, "5.7.139", "SMTP AUTH is disabled for the tenant or for this mailbox: an Exchange administrator must "
     "enable Authenticated SMTP for {account} (not a token fault).", False),
    (554, "5.2.252", "{account} may not send as {sender}: set the Sender Address to {account}, or have an "
     "Exchange administrator grant {account} Send As rights on {sender}.", False),
    (535, "", "The SMTP server did not accept the token for {account}: check that {account} has a mailbox "
     "and that the app has the SMTP.Send permission.", True),
    (530, "", "The SMTP server requires a login: set the Authentication Method to OAuth 2.0.", False),
    (550, "5.1.10", "The server refused a recipient: check the address.", False),
]


def explain_smtp(code: int, text: str, *, account: str, sender: str) -> tuple[str, bool]:
    """(message, token at fault) for an SMTP error reply."""
    for row_code, marker, message, token_fault in SMTP_ANSWERS:
        if code == row_code and marker in text:
            return message.format(account=account, sender=sender or account), token_fault
    return f"The SMTP server refused the request (reply {code}). Check the SMTP settings.", False


def explain_pop(text: str, account: str) -> str:
    """The message for a POP3 login refusal (Exchange: -ERR Authentication failure)."""
    return (f"The POP3 server did not accept the token for {account}: check that {account} has a mailbox "
            "and that the app has the POP.AccessAsUser.All permission.")


def explain_connection(exc: BaseException, kind: str, host: str, port: int, timeout: int) -> str:
    """The message for a mail server that could not be reached or secured."""
    where = f"{host}:{port}"
    setting = "Primary Server" if kind == "SMTP" else "POP3 Server"
    # smtplib reports a timeout or a TLS failure as "disconnected": the cause
    # it wraps says more.
    while isinstance(exc, smtplib.SMTPServerDisconnected) and exc.__context__ is not None:
        exc = exc.__context__
    if isinstance(exc, socket.gaierror):
        return f"The {kind} server {host} was not found: check {setting}."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"The certificate of {host} is not trusted. If it uses a private CA, add that CA under "
                "Extra CA certificates (tls.ca_bundle).")
    if isinstance(exc, ssl.SSLError):
        return (f"TLS could not be set up with {where}: check that Enable SSL/TLS matches the port "
                "(STARTTLS on 587 and 110, SSL/TLS on 465 and 995).")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"{where} did not answer within {timeout} s: check the network and Port Number; the next check tries again."
    if isinstance(exc, ConnectionRefusedError):
        return f"{where} refused the connection: check {setting} and Port Number."
    if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, EOFError)):
        return f"{where} closed the connection: check that Enable SSL/TLS matches the port, then try again."
    return f"Could not reach the {kind} server {where}: check the network; the next check tries again."
