"""A throwaway certificate authority for the local platform (``watertight up --tls``).

One CA, then one certificate per identity (a site, or the operator's CLI), each valid
for both ends of a connection (server and client) and for the loopback addresses the
local platform serves on. Each identity gets a TLS directory in the layout
:mod:`failover.tls` reads (``ca.crt``, ``tls.crt``, ``tls.key``); private keys are
written 0600. Keys are ECDSA P-256, certificates valid for 30 days: a local platform
lives for hours, and a bank's real PKI issues the real ones (docs/security.md).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from failover.tls import CA_FILE, CERT_FILE, KEY_FILE
from failover.tls import ENV as TLS_ENV

TLS_DIR = "tls"
"""Where in its state dir a local platform keeps its PKI: ``tls/ca`` and one directory
per identity."""
VALID_FOR = datetime.timedelta(days=30)
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
EDGE_IDENTITY = "edge"
"""The router's identity: it calls units from outside every site."""
OPERATOR_IDENTITY = "operator"
"""The CLI's and the drills' identity: the process that drives the platform."""


def tls_env(tls_root: str, identity: str) -> dict[str, str]:
    """The ``WATERTIGHT_TLS_DIR`` of a process with ``identity`` on a platform whose PKI
    is ``tls_root``; nothing when the platform runs without TLS (``tls_root`` empty)."""
    return {TLS_ENV: str(Path(tls_root) / identity)} if tls_root else {}


def act_as_operator(tls_root: str) -> None:
    """Make this process present the operator's certificate to the platform whose PKI is
    ``tls_root`` (every client of :mod:`failover.tls` reads it from the environment);
    for a platform without TLS, drop any ``WATERTIGHT_TLS_DIR`` this process inherited:
    the platform's record, not the shell, decides what the CLI presents."""
    if tls_root:
        os.environ.update(tls_env(tls_root, OPERATOR_IDENTITY))
    else:
        os.environ.pop(TLS_ENV, None)


def issue_local_pki(directory: Path, identities: Iterable[str]) -> dict[str, Path]:
    """A new CA in ``directory/ca`` and a TLS directory ``directory/<identity>`` for each
    identity; returns identity → its TLS directory. Overwrites what was there."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "watertight local CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / "ca", ca_cert, ca_key, ca_cert)
    issued = {}
    for identity in identities:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)])
        cert = (
            _builder(subject, ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(_alt_names(identity), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        issued[identity] = _write(directory / identity, cert, key, ca_cert)
    return issued


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + VALID_FOR)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=not ca, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _alt_names(identity: str) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in (*LOOPBACK_NAMES, identity)]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK_ADDRESSES]
    return x509.SubjectAlternativeName(names)


def _write(
    target: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (target / CA_FILE).write_bytes(ca.public_bytes(pem))
    (target / CERT_FILE).write_bytes(cert.public_bytes(pem))
    key_bytes = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(target / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    return target
