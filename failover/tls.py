"""Mutual TLS between sites: one process's certificate, key and CA (docs/security.md).

A TLS directory (``WATERTIGHT_TLS_DIR``; a mounted Kubernetes TLS Secret) holds the
three files a ``kubernetes.io/tls`` Secret with a CA holds: ``ca.crt`` (the one CA every
site trusts), ``tls.crt`` (this process's certificate, which names the addresses it
serves) and ``tls.key``.

Contracts:

- Without ``WATERTIGHT_TLS_DIR`` nothing changes: servers speak plain HTTP and clients
  accept ``http://`` addresses. TLS is switched on by the addresses (``https://``) and
  the directory together; the local platform (``watertight up --tls``) sets both.
- With it, a server that calls :func:`uvicorn_options` speaks only TLS and refuses a
  client without a certificate from the CA (a plain-HTTP request never reaches the app);
  a client built with :func:`client_verify` checks the server's certificate against the
  CA and the address, and presents its own.
- A directory that is set but incomplete or unreadable refuses to start the process:
  :class:`TlsConfigError` names the file, never the key's contents.
- The router's customer-facing listener is not a site-to-site link and stays as it is
  (customer TLS ends at the bank's load balancer); its calls to units use TLS.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "WATERTIGHT_TLS_DIR"
CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "tls.crt", "tls.key"


class TlsConfigError(ValueError):
    """The TLS directory is set but cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The three files of one TLS directory, each checked readable when loaded."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_directory(cls, directory: Path) -> TlsFiles:
        files = cls(directory / CA_FILE, directory / CERT_FILE, directory / KEY_FILE)
        for path in (files.ca, files.cert, files.key):
            if not path.is_file():
                raise TlsConfigError(f"{ENV}: {path} is missing (need {CA_FILE}, "
                                     f"{CERT_FILE} and {KEY_FILE})")  # fmt: skip
        try:
            files.server_context()
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(f"{ENV}: {directory} does not hold a usable "
                                 f"certificate, key and CA: {exc}") from exc  # fmt: skip
        return files

    def server_context(self) -> ssl.SSLContext:
        """Serve with this certificate; require a client certificate from the CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trust only the CA, check the server's name, present this certificate."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.run``/``uvicorn.Config``: TLS, client
        certificates required."""
        return {
            "ssl_certfile": str(self.cert),
            "ssl_keyfile": str(self.key),
            "ssl_ca_certs": str(self.ca),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }


def from_env(env: Mapping[str, str] | None = None) -> TlsFiles | None:
    """This process's TLS files, or None when ``WATERTIGHT_TLS_DIR`` is unset or empty.
    Raises :class:`TlsConfigError` when it is set and unusable."""
    directory = (os.environ if env is None else env).get(ENV, "").strip()
    return TlsFiles.from_directory(Path(directory)) if directory else None


def uvicorn_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``uvicorn.run`` keywords for a site-to-site listener: TLS options when this
    process has a TLS directory, none otherwise (plain HTTP)."""
    files = from_env(env)
    return files.uvicorn_options() if files else {}


def client_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext | None:
    """This process's client context for calling another site when it has a TLS
    directory; None otherwise (plain HTTP)."""
    files = from_env(env)
    return files.client_context() if files else None


def client_verify(env: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """The ``verify=`` of an httpx client calling another site: :func:`client_context`,
    or httpx's default (``True``) without a TLS directory."""
    context = client_context(env)
    return context if context is not None else True


def scheme(enabled: bool) -> str:
    """The URL scheme of a site-to-site address."""
    return "https" if enabled else "http"
