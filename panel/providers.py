"""Providers: data plus a small adapter that builds msal's client.

Microsoft 365 uses msal's Microsoft authority; any OpenID provider with the
device flow (RFC 8628) and the embedded lab use msal's `oidc_authority`.
`from_settings` refuses incomplete settings with a message naming the
setting to fill in, before any network traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal

from .answers import GET_TOKEN_AGAIN
from .errors import ProviderError
from .settings import PROVIDERS
from .tls import http_session

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_SCOPES = (
    "https://outlook.office.com/SMTP.Send",
    "https://outlook.office.com/POP.AccessAsUser.All",
)


@dataclass(frozen=True)
class Provider:
    name: str
    client_id: str
    scopes: tuple[str, ...]
    authority: str | None = None  # a Microsoft authority
    oidc_authority: str | None = None  # an OpenID issuer
    ca_files: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return PROVIDERS[self.name]

    def application(self, cache: msal.SerializableTokenCache | None = None) -> msal.PublicClientApplication:
        """Build msal's client. Fetches the provider's metadata: network I/O."""
        kwargs: dict[str, Any] = {"authority": self.authority} if self.authority else {
            "oidc_authority": self.oidc_authority}
        return msal.PublicClientApplication(
            self.client_id,
            token_cache=cache,
            http_client=http_session(self.ca_files),
            **kwargs,
        )


def from_settings(settings: dict[str, Any], data_dir: Path, then: str = GET_TOKEN_AGAIN) -> Provider:
    """The provider the settings name; `then` ends a message about the lab not running."""
    name = settings["oauth.provider"]
    custom_scopes = tuple(settings["oauth.scopes"].split())
    extra_ca = (settings["tls.ca_bundle"],) if settings["tls.ca_bundle"] else ()
    if name == "microsoft365":
        if not settings["oauth.client_id"]:
            raise ProviderError("Enter the Client ID: the application (client) ID of the app "
                                "registration in Microsoft Entra.")
        return Provider(name, settings["oauth.client_id"], custom_scopes or MICROSOFT_SCOPES,
                        authority=f"{MICROSOFT_LOGIN}/{settings['oauth.tenant']}", ca_files=extra_ca)
    if name == "oidc":
        missing = [label for key, label in (("oauth.authority", "Authority"), ("oauth.client_id", "Client ID"),
                                             ("oauth.scopes", "Scopes")) if not settings[key]]
        if missing:
            raise ProviderError(f"Enter the {' and '.join(missing)} of the OpenID provider.")
        return Provider(name, settings["oauth.client_id"], custom_scopes,
                        oidc_authority=settings["oauth.authority"], ca_files=extra_ca)
    if name == "lab":
        from .lab import LAB_CLIENT_ID, LAB_SCOPES, read_endpoints

        endpoints = read_endpoints(data_dir)
        if not endpoints:
            raise ProviderError("The lab is not running. Start it with 'panel lab' or 'panel run --lab', "
                                f"then {then}.")
        return Provider(name, LAB_CLIENT_ID, custom_scopes or LAB_SCOPES,
                        oidc_authority=endpoints["issuer"], ca_files=(endpoints["ca_file"], *extra_ca))
    raise ProviderError(f"Unknown provider {name}.")
