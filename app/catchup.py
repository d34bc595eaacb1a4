"""Catching up a standby from a more advanced copy before the controller promotes it.

The controller (docs/controller.md) promotes a city-A standby even when the remote
standby holds more of the journal: first it asks the candidate to copy what it lacks
(``POST /admin/catch-up``). The candidate pulls the source's journal
(``POST /replication/export``) in batches and :meth:`Receiver.absorb` s each one, until
it holds everything the source held when asked. Entries carry their idempotency keys,
so a caught-up copy answers a retried key exactly as the old primary did.
"""

from __future__ import annotations

import time

import httpx

from app import journal
from app.database import Database
from app.errors import InvalidRequestError, UnavailableError
from app.node import Node
from app.protocol import CatchUpRequest, CatchUpResult, ExportRequest, ExportResult
from app.receiver import Receiver
from failover.credentials import Credentials, Role
from failover.tls import client_verify

BATCH = 2_000
TIMEOUT_SECONDS = 5.0
DEADLINE_SECONDS = 60.0


class CatchUp:
    """Runs ``POST /admin/catch-up`` on this instance."""

    def __init__(
        self, node: Node, db: Database, receiver: Receiver, credentials: Credentials
    ) -> None:
        self._node, self._db, self._receiver = node, db, receiver
        self._credentials = credentials

    def run(self, request: CatchUpRequest) -> CatchUpResult:
        """Copy from ``request.source_site`` until this copy holds what it held at the
        first answer. Raises 503 when the source cannot be read, 409 when refused."""
        url = self._node.settings.peers.get(request.source_site)
        if url is None or request.source_site == self._node.settings.site:
            known = ", ".join(sorted(self._node.settings.peers)) or "none"
            raise InvalidRequestError(
                f"cannot catch up from {request.source_site!r} (peers: {known})"
            )
        auth = self._credentials.auth(Role.REPLICATION)
        fetched = discarded = 0
        target: int | None = None
        deadline = time.monotonic() + DEADLINE_SECONDS
        with httpx.Client(
            base_url=url, auth=auth, timeout=TIMEOUT_SECONDS, verify=client_verify()
        ) as client:
            while time.monotonic() < deadline:
                mine = self._last()[0]
                source = _export(client, request.source_site, mine)
                target = source.last_lsn if target is None else target
                gone, applied = self._receiver.absorb(request.source_site, request.epoch, source)
                fetched, discarded = fetched + applied, discarded + gone
                if self._last()[0] >= target:
                    break
                if not gone and not applied:
                    raise UnavailableError(
                        f"catching up from {request.source_site} made no progress at lsn {mine}"
                    )
        last, epoch = self._last()
        if target is None or last < target:
            raise UnavailableError(f"catching up from {request.source_site} did not finish")
        return CatchUpResult(
            last_lsn=last, last_entry_epoch=epoch, fetched=fetched, discarded=discarded
        )

    def _last(self) -> tuple[int, int]:
        with self._db.read() as session:
            return journal.last_position(session)


def _export(client: httpx.Client, site: str, after: int) -> ExportResult:
    body = ExportRequest(after_lsn=after, limit=BATCH).model_dump_json()
    try:
        response = client.post(
            "/replication/export", content=body, headers={"Content-Type": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise UnavailableError(f"cannot read the journal at {site}: {exc}") from exc
    if response.status_code != 200:
        raise UnavailableError(
            f"{site} answered {response.status_code} to export: {response.text[:200]}"
        )
    return ExportResult.model_validate_json(response.content)
