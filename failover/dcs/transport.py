"""Time-bounded POSTs to etcd's JSON gateway over several endpoints (etcd3gw clients).

One call tries the endpoints in turn, starting from the last one that worked, each with a
short timeout. Failures are classified:

- surely not applied (connection refused, connect timeout, "no leader") → next endpoint;
- maybe applied (read timeout or reset after the request went out, etcd "request timed
  out") → reads move on to the next endpoint, writes raise :class:`DcsOutcomeUnknown`;
- etcd's own verdicts ("lease not found", bad request) → raised at once.

Over ``https://`` endpoints (mutual TLS, docs/security.md) each client presents this
process's certificate (``WATERTIGHT_TLS_DIR``, :func:`failover.tls.from_env`) and trusts
only its CA. A TLS handshake refused over a certificate (either side's) surely did not
reach etcd; any other TLS failure may have come after the request went out.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Sequence
from typing import Any

import requests
from etcd3gw import exceptions as gw

from failover.dcs.errors import DcsError, DcsOutcomeUnknown, DcsUnavailable, LeaseNotFound
from failover.etcd_gateway import gateway_client
from failover.tls import from_env

log = logging.getLogger(__name__)

_NOT_APPLIED_MARKERS = ("no leader", "not capable", "too many requests", "not started")


def _refused_certificate(reason: object) -> bool:
    """A TLS handshake that failed over a certificate: ours refused etcd's, or etcd ours.
    The request is sent only after the handshake, so etcd never saw it."""
    args = getattr(reason, "args", ())
    error = args[0] if args else reason  # urllib3 wraps the ssl module's error
    if isinstance(error, ssl.SSLCertVerificationError):
        return True
    return isinstance(error, ssl.SSLError) and "CERTIFICATE" in str(error.reason or "").upper()


def _surely_not_sent(exc: gw.Etcd3Exception) -> bool:
    cause = exc.__context__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.SSLError):
        reason = getattr(cause.args[0], "reason", None) if cause.args else None
        return _refused_certificate(reason)
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = getattr(cause.args[0], "reason", None) if cause.args else None
        return type(reason).__name__ == "NewConnectionError"
    if cause is None:  # an HTTP error status: etcd answered
        detail = (exc.detail_text or "").lower()
        return any(marker in detail for marker in _NOT_APPLIED_MARKERS)
    return False


class Transport:
    """POST JSON to ``/v3/<path>`` on the first endpoint that answers in time.

    ``https://`` endpoints use this process's TLS directory (:func:`gateway_client`);
    raises ``ValueError`` naming an endpoint that cannot be used."""

    def __init__(self, endpoints: Sequence[str], timeout: float) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self.endpoints = tuple(endpoints)
        self.timeout = timeout
        tls = from_env()
        self._clients = [gateway_client(url, timeout, tls) for url in self.endpoints]
        self._current = 0
        self._lock = threading.Lock()

    def post(self, path: str, body: dict[str, Any], *, write: bool) -> dict[str, Any]:
        """Return etcd's JSON answer; raise a :class:`DcsError` subclass otherwise."""
        with self._lock:
            start = self._current
        errors: list[str] = []
        for step in range(len(self._clients)):
            index = (start + step) % len(self._clients)
            client = self._clients[index]
            try:
                answer: dict[str, Any] = client.post(client.get_url(path), json=body)
            except (gw.ConnectionFailedError, gw.ConnectionTimeoutError) as exc:
                self._rotate_from(index)
                errors.append(f"{self.endpoints[index]}: {_describe(exc)}")
                if write and not _surely_not_sent(exc):
                    raise DcsOutcomeUnknown(
                        f"etcd write to {path} sent to {self.endpoints[index]} got no answer "
                        f"({_describe(exc)}); it may have been applied: re-read before acting. "
                        "If this persists, check that a majority of etcd members is running "
                        "and reachable."
                    ) from exc
                continue
            except gw.Etcd3Exception as exc:
                raise _etcd_verdict(path, exc) from exc
            with self._lock:
                self._current = index
            return answer
        raise DcsUnavailable(
            f"no etcd endpoint answered {path} within {self.timeout:g} s: "
            + "; ".join(errors)
            + ". Check that a majority of etcd members is running and reachable."
        )

    def _rotate_from(self, index: int) -> None:
        with self._lock:
            if self._current == index:
                self._current = (index + 1) % len(self._clients)

    def close(self) -> None:
        for client in self._clients:
            client.session.close()


def _describe(exc: gw.Etcd3Exception) -> str:
    text = (exc.detail_text or type(exc).__name__).strip().replace("\n", " ")
    return text[:200]


def _etcd_verdict(path: str, exc: gw.Etcd3Exception) -> DcsError:
    detail = _describe(exc)
    if "lease not found" in detail.lower():
        return LeaseNotFound(f"etcd lease is gone (expired or revoked): {detail}")
    return DcsError(f"etcd refused {path}: {detail}")
