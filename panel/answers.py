"""The provider's answers and what the administrator is told for each.

One table, so the screen, the command line and the README say the same
thing. Each row matches an OAuth error code and, for Microsoft, the AADSTS
number inside its description (public Microsoft identity platform and RFC 8628
documentation; see shared/reference/provider-answers.md). The provider's own
description text is never shown: it can be long, cryptic or localised.
"""

from __future__ import annotations

import re
import ssl

import requests

AGAIN = "Press Get Token to try again."

# (error, AADSTS code or None, message)
TOKEN_ANSWERS: list[tuple[str, str | None, str]] = [
    ("authorization_declined", None, "The sign-in was declined on the provider's page. " + AGAIN),
    ("access_denied", None, "The sign-in was declined on the provider's page. " + AGAIN),
    ("expired_token", None, "The code expired before it was approved. " + AGAIN),
    ("bad_verification_code", None, "The provider did not recognise the code. " + AGAIN),
    ("invalid_client", "7000218", "The app registration does not allow public client flows: in Microsoft Entra, "
     "set 'Allow public client flows' to Yes for this application, then press Get Token again."),
    ("invalid_client", "700016", "The Client ID is not an application in this tenant: check Client ID and Tenant."),
    ("invalid_request", "90002", "The tenant was not found: check Tenant."),
    ("invalid_request", "50059", "The tenant was not found: check Tenant."),
    ("invalid_grant", "65001", "The mail permissions have not been consented: an administrator must grant "
     "consent to SMTP.Send and POP.AccessAsUser.All for this application, then press Get Token again."),
    ("invalid_client", None, "The provider does not know this Client ID: check Client ID."),
    ("invalid_scope", None, "The provider refused the requested scopes: check Scopes."),
    ("unauthorized_client", None, "This application may not use the device sign-in: check the app registration."),
]


def explain_error(answer: dict) -> str:
    """The message for an OAuth error answer (a dict with 'error')."""
    error = answer.get("error", "")
    description = str(answer.get("error_description", ""))
    codes = set(re.findall(r"AADSTS(\d+)", description)) | {str(c) for c in answer.get("error_codes", [])}
    for row_error, code, message in TOKEN_ANSWERS:
        if row_error == error and code is not None and code in codes:
            return message
    for row_error, code, message in TOKEN_ANSWERS:
        if row_error == error and code is None:
            return message
    label = error if re.fullmatch(r"[a-z_]{1,64}", error or "") else "unknown error"
    return f"The provider refused the request ({label}). Check the provider settings, then press Get Token again."


def explain_exception(exc: BaseException, where: str) -> str:
    """The message for a failure to talk to the provider at `where` (a host)."""
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(exc, ssl.SSLError):
        return (f"The certificate of {where} is not trusted. If it uses a private CA, add that CA "
                "under Extra CA certificates (tls.ca_bundle).")
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer in time. Check the network, then press Get Token again."
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"Could not reach {where}. Check the network and the provider address, then press Get Token again."
    if isinstance(exc, (ValueError, KeyError)):
        return (f"{where} did not answer as an OpenID provider with device sign-in. "
                "Check the provider address, then press Get Token again.")
    return f"Talking to {where} failed. Check the provider settings, then press Get Token again."
