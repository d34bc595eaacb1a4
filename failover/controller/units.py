"""The unit instances' admin API, as the controller calls it (``POST /admin/role``).

Role changes are idempotent by epoch, so transient errors are retried
(:func:`failover.retry.admin_call_retry`). A refusal (4xx) is not retried: it is an
answer, raised as :class:`RoleRefused` with the instance's own reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from failover.credentials import Credentials, Role
from failover.observer.addresses import SiteAddresses
from failover.retry import Sleep, admin_call_retry
from failover.tls import client_verify

ADMIN_TIMEOUT = httpx.Timeout(3.0, connect=0.5)
CATCH_UP = httpx.Timeout(60.0, connect=0.5)


class RoleRefused(Exception):  # noqa: N818 - an answer, not a failure
    """The instance answered and refused the change (or could not be reached)."""


@dataclass(frozen=True, slots=True)
class RoleChange:
    role: str
    epoch: int
    standbys: tuple[str, ...] | None = None
    primary_site: str | None = None
    acks_required: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "role": self.role,
            "epoch": self.epoch,
            "primary_site": self.primary_site,
        }
        if self.standbys is not None:
            body["standbys"] = list(self.standbys)
        if self.acks_required is not None:
            body["acks_required"] = self.acks_required
        return body


class AdminPort(Protocol):
    """What the controller needs from unit instances (fakes implement it in tests)."""

    def set_role(self, unit: str, site: str, change: RoleChange) -> dict[str, Any]: ...

    def unit_view(self, unit: str, site: str) -> dict[str, Any] | None: ...

    def catch_up(self, unit: str, site: str, source: str, epoch: int) -> dict[str, Any]:
        """Have ``unit`` in ``site`` copy what ``source`` holds that it lacks; returns its
        answer (``last_lsn``, ``last_entry_epoch``, ...). Raises :class:`RoleRefused`."""
        ...


class UnitAdmin:
    """Sends role changes to unit instances through this site's addresses."""

    def __init__(self, addresses: SiteAddresses, credentials: Credentials, *, sleep: Sleep) -> None:
        self._addresses, self._sleep = addresses, sleep
        # The admin token is looked up per request, so a rotation needs no restart.
        self._client = httpx.Client(
            timeout=ADMIN_TIMEOUT, auth=credentials.auth(Role.ADMIN), verify=client_verify()
        )

    def set_role(self, unit: str, site: str, change: RoleChange) -> dict[str, Any]:
        """Apply ``change``; returns the instance's answer. Raises :class:`RoleRefused`."""
        url = self._addresses.unit_url(unit, site)
        if url is None:
            raise RoleRefused(f"no address for {unit} in {site}")
        try:
            for attempt in admin_call_retry(sleep=self._sleep, retry_on=(httpx.TransportError,)):
                with attempt:
                    response = self._client.post(f"{url}/admin/role", json=change.body())
        except httpx.HTTPError as exc:
            raise RoleRefused(f"{unit} in {site} unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise RoleRefused(f"{unit} in {site} refused: {response.status_code} {response.text}")
        body = response.json()
        return body if isinstance(body, dict) else {}

    def catch_up(self, unit: str, site: str, source: str, epoch: int) -> dict[str, Any]:
        """``POST /admin/catch-up`` (not retried: one attempt may copy thousands of
        entries; the next cycle asks again). Raises :class:`RoleRefused`."""
        url = self._addresses.unit_url(unit, site)
        if url is None:
            raise RoleRefused(f"no address for {unit} in {site}")
        body = {"source_site": source, "epoch": epoch}
        try:
            response = self._client.post(f"{url}/admin/catch-up", json=body, timeout=CATCH_UP)
        except httpx.HTTPError as exc:
            raise RoleRefused(f"{unit} in {site} unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise RoleRefused(
                f"{unit} in {site} could not catch up from {source}: "
                f"{response.status_code} {response.text}"
            )
        answer = response.json()
        return answer if isinstance(answer, dict) else {}

    def unit_view(self, unit: str, site: str) -> dict[str, Any] | None:
        """``GET /v1/unit`` now (None when it does not answer)."""
        url = self._addresses.unit_url(unit, site)
        if url is None:
            return None
        try:
            response = self._client.get(f"{url}/v1/unit", timeout=1.0)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        return body if isinstance(body, dict) else None

    def close(self) -> None:
        self._client.close()
