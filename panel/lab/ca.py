"""The lab's own certificate authority and keys.

At the first start of the lab this makes, with ``cryptography``, a small CA
(key + self-signed certificate) and a TLS server certificate signed by it, and
keeps them in ``<data_dir>/lab/``:

- ``ca.pem``      the CA certificate: what clients (msal, requests, a phone)
                  are told to trust; it is public.
- ``ca.key``      the CA private key (mode 0600).
- ``server.pem``  the server certificate, SANs ``127.0.0.1``, ``localhost``
                  and any extra host asked for.
- ``server.key``  its private key (mode 0600).
- ``idtoken.key`` the RSA key that signs ID tokens (mode 0600); its public
                  half is published at the identity provider's ``jwks_uri``.

A lab started with a certificate fault (``fault_tls_files``) presents a
broken certificate instead, made afresh at each start in ``tls-fault/``:

- ``expired.pem``   signed by the lab CA, SANs as above, but its validity
                    ended a day ago (clients: "certificate has expired");
- ``untrusted.pem`` valid and with the right SANs, but signed by
                    ``other-ca.pem``, a CA no client is told to trust
                    (clients: "unable to get local issuer certificate").

``ca.pem`` stays what clients trust, so only the served certificate is wrong.

Later starts reuse the files. The server certificate is issued again when a
requested SAN is missing, when it expires within 30 days, or when it no longer
chains to ``ca.pem``; the CA is made again only when it is missing, unreadable
or itself close to expiry (clients then need the new ``ca.pem``).

Thread rules: none of its own; a LabServer calls it from ``start()`` before
any server thread exists. Two processes starting a lab on the same data
directory at the same moment are not supported.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TLS_FAULTS", "TlsFiles", "ensure_tls_files", "fault_tls_files", "load_or_create_signing_key"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
RENEW_BEFORE = datetime.timedelta(days=30)
CA_LIFETIME = datetime.timedelta(days=3650)
# Apple platforms refuse TLS server certificates valid for more than 825
# days, browsers in general for more than 398: stay under both so a phone
# that trusts ca.pem accepts the approval page.
SERVER_LIFETIME = datetime.timedelta(days=397)
# Certificate faults a lab can start with (see ``fault_tls_files``).
TLS_FAULTS = ("expired", "untrusted")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the lab's TLS material."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def ensure_tls_files(lab_dir: Path | str, hosts: Iterable[str] = ()) -> TlsFiles:
    """Make sure ``lab_dir`` holds a CA and a server certificate covering
    ``127.0.0.1``, ``localhost`` and ``hosts``; create or renew what is
    missing or stale and return the paths."""
    lab_dir = Path(lab_dir)
    _make_private_dir(lab_dir)
    wanted = _normalise_hosts([*DEFAULT_HOSTS, *hosts])
    files = TlsFiles(lab_dir / "ca.pem", lab_dir / "server.pem", lab_dir / "server.key")
    ca_key_file = lab_dir / "ca.key"
    now = _now()

    ca = _load_pair(files.ca_file, ca_key_file, now)
    if ca is None:
        ca = _create_ca(files.ca_file, ca_key_file, now)
        server_ok = False
    else:
        server_ok = _server_cert_ok(files, ca[0], wanted, now)
    if not server_ok:
        _create_server_cert(files, ca, wanted, now)
    return files


def fault_tls_files(lab_dir: Path | str, fault: str, hosts: Iterable[str] = ()) -> TlsFiles:
    """Make the broken server certificate of ``fault`` (one of
    ``TLS_FAULTS``) for ``127.0.0.1``, ``localhost`` and ``hosts``; return
    its paths, ``ca_file`` being the CA that signed it (the lab CA for
    ``expired``, the untrusted other CA for ``untrusted``)."""
    if fault not in TLS_FAULTS:
        raise ValueError(f"tls_fault must be one of {', '.join(TLS_FAULTS)}, not {fault!r}")
    lab_dir = Path(lab_dir)
    lab_files = ensure_tls_files(lab_dir, hosts)
    fault_dir = lab_dir / "tls-fault"
    _make_private_dir(fault_dir)
    wanted = _normalise_hosts([*DEFAULT_HOSTS, *hosts])
    now = _now()
    files = TlsFiles(lab_files.ca_file, fault_dir / f"{fault}.pem", fault_dir / f"{fault}.key")
    if fault == "expired":
        ca = _load_pair(lab_files.ca_file, lab_dir / "ca.key", now)
        _create_server_cert(
            files, ca, wanted, now,
            valid_from=now - datetime.timedelta(days=90),
            valid_until=now - datetime.timedelta(days=1),
        )
        return files
    other_ca = fault_dir / "other-ca.pem"
    ca = _create_ca(other_ca, fault_dir / "other-ca.key", now, common_name="panel lab other CA (not trusted)")
    _create_server_cert(files, ca, wanted, now)
    return TlsFiles(other_ca, files.cert_file, files.key_file)


def load_or_create_signing_key(lab_dir: Path | str) -> bytes:
    """Return the PEM of the RSA key that signs ID tokens (RS256), creating it
    on first use. Kept across restarts so ID tokens issued before a restart
    still verify against the published JWKS."""
    lab_dir = Path(lab_dir)
    _make_private_dir(lab_dir)
    path = lab_dir / "idtoken.key"
    try:
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
            return pem
    except (OSError, ValueError, TypeError):
        pass
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _private_pem(key)
    write_atomic(path, pem, private=True)
    return pem


# -- internals ---------------------------------------------------------------


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _normalise_hosts(hosts: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for host in hosts:
        host = host.strip().strip("[]").lower()
        if host and host not in seen:
            seen.append(host)
    return seen


def _san_entries(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _load_pair(cert_file: Path, key_file: Path, now: datetime.datetime):
    """(certificate, key) when both load, match, and the certificate is not
    due for renewal; else None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return None
    return cert, key


def _create_ca(cert_file: Path, key_file: Path, now: datetime.datetime,
               common_name: str = "panel lab CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "panel lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    write_atomic(key_file, _private_pem(key), private=True)
    write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def _server_cert_ok(files: TlsFiles, ca_cert, wanted: list[str], now) -> bool:
    pair = _load_pair(files.cert_file, files.key_file, now)
    if pair is None:
        return False
    cert = pair[0]
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = set(san)
    return all(entry in present for entry in _san_entries(wanted))


def _create_server_cert(files: TlsFiles, ca, hosts: list[str], now, *,
                        valid_from=None, valid_until=None) -> None:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "panel lab"),
                    x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - datetime.timedelta(minutes=5))
        .not_valid_after(valid_until or now + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(files.key_file, _private_pem(key), private=True)
    write_atomic(files.cert_file, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _private_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass


def write_atomic(path: Path, data: bytes | str, *, private: bool = True) -> None:
    # Write beside the target and rename, so a crash never leaves half a key
    # and a private key is never readable by others, not even for a moment.
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        if hasattr(os, "fchmod"):  # not on Windows
            os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
