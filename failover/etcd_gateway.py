"""One etcd endpoint's client over its JSON gateway: the scheme and this process's TLS
directory together (docs/security.md).

Standalone, like :mod:`failover.tls`: the unit service's lease client
(``app.etcd_client``) and the orchestrator's DCS transport (``failover.dcs.transport``)
both build their etcd3gw clients and sessions here, so the two cannot drift on how
https, certificates and CA pinning work.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import etcd3gw
import requests

from failover.tls import ENV as TLS_ENV
from failover.tls import TlsFiles


def parse_endpoint(url: str) -> tuple[str, str, int]:
    """``http(s)://host:port`` (``host:port`` means ``http``) → (scheme, host, port).
    Raises ``ValueError`` naming the bad URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ValueError(
            f"etcd endpoint {url!r} must look like http://127.0.0.1:2379 "
            "(https://… with a TLS directory)"
        )
    return parts.scheme, parts.hostname, parts.port


def gateway_client(url: str, timeout: float, tls: TlsFiles | None) -> etcd3gw.Etcd3Client:
    """An etcd3gw client of one endpoint: plain for ``http://``, mutual TLS with ``tls``
    for ``https://``. The scheme and the TLS directory go together: either without the
    other raises ``ValueError`` naming the endpoint (no silent downgrade to plain HTTP)."""
    scheme, host, port = parse_endpoint(url)
    if scheme == "http" and tls is not None:
        raise ValueError(
            f"etcd endpoint {url!r} is plain HTTP but this process has a TLS directory "
            f"({TLS_ENV}): give https:// endpoints"
        )
    if scheme == "http":
        return etcd3gw.Etcd3Client(host=host, port=port, timeout=timeout, api_path="/v3/")
    if tls is None:
        raise ValueError(
            f"etcd endpoint {url!r} is https but this process has no TLS directory: "
            f"set {TLS_ENV} (ca.crt, tls.crt, tls.key)"
        )
    return etcd3gw.Etcd3Client(
        host=host, port=port, protocol="https", timeout=timeout, api_path="/v3/",
        session=new_session(tls),
    )  # fmt: skip


def new_session(tls: TlsFiles | None) -> requests.Session:
    """A requests session for etcd: with ``tls``, it presents that certificate and trusts
    only that CA (whatever CA bundle the environment names); plain otherwise. For calls
    etcd3gw does not make, such as the watch stream."""
    if tls is None:
        return requests.Session()
    session = _PinnedSession()
    session.verify, session.cert = str(tls.ca), (str(tls.cert), str(tls.key))
    return session


class _PinnedSession(requests.Session):
    """A session that trusts only the CA it was given: requests otherwise lets a CA bundle
    in the environment (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) replace a session's
    ``verify`` on every request, and etcd's certificate then fails against the bundle."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify if verify is None else verify
        return settings
