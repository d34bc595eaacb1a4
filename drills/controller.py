"""The controller's HTTP API as drills read it (docs/design.md §5): events through the
schema the controller writes them with, the status leniently.

Drills only *read* the controller for three things: its events (detection time and a
second count of promotions), its status (leader site, site verdicts, pending approvals,
for ``wait-until`` and ``$leader``) and to ask for operator moves. Measurements never
trust these answers for RTO/RPO/split brain: those come from the load generator.

``GET /v1/events`` answers the one schema the controller serialises with,
:class:`failover.events.EventPage`; the drills read it through the same schema (an
answer that does not match it raises :class:`ValueError`, never reads as events without
epochs) and turn each :class:`failover.events.Event` into the measurements'
:class:`~drills.controller_event.ControllerEvent`: ``at`` on the drill clock, ``kind`` in the
drills' spelling (``_`` → ``-``: ``site_down`` → ``site-down``), ``site``, ``unit``,
``epoch`` (the event's ``data.epoch``) and ``detail`` (its ``summary``).

The pure parsing functions are tested on their own; :class:`ControllerClient` does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from drills.controller_event import PROMOTED, SITE_DOWN, ControllerEvent
from failover import events as wire

#: The controller's kinds that measurements read, in the drills' spelling.
MEASURED_KINDS = {wire.SITE_DOWN: SITE_DOWN, wire.PROMOTED: PROMOTED}
TIMEOUT = httpx.Timeout(2.0)
#: A planned move of a whole site moves its units one after another (~2 s each on two
#: busy cores: drain, lease gone, catch-up, promote); 10 s cut a failback of four short.
MOVE_TIMEOUT = httpx.Timeout(60.0, connect=2.0)
PAGE = 1000
MAX_PAGES = 50


def normalize_kind(kind: str) -> str:
    """A controller kind in the drills' spelling: ``site_down`` → ``site-down``,
    ``approval_requested`` → ``approval-requested``."""
    return MEASURED_KINDS.get(kind, kind.replace("_", "-"))


def drill_event(event: wire.Event, wall_started_at: float) -> ControllerEvent:
    """``event`` as measurements read it, on the drill clock (seconds since
    ``wall_started_at``, the Unix time the drill started)."""
    return ControllerEvent(
        at=round(event.at - wall_started_at, 6),
        kind=normalize_kind(event.kind),
        site=event.site,
        unit=event.unit,
        epoch=event.epoch,
        detail=event.summary,
    )


def parse_events(payload: object, wall_started_at: float) -> list[ControllerEvent]:
    """One ``/v1/events`` answer (decoded JSON) as drill events, in its order.

    Raises :class:`ValueError` when the answer does not match
    :class:`failover.events.EventPage`.
    """
    return [drill_event(e, wall_started_at) for e in wire.read_page(payload).events]


def merge_events(*batches: Iterable[ControllerEvent]) -> list[ControllerEvent]:
    """Union of event lists (from several controllers, or several polls), time ordered,
    duplicates removed — the earliest is kept:

    - equal events (controllers sharing one records store list the same events; a poll
      lists again what the one before it did);
    - a promotion recorded again for the same unit and epoch (a new leader completing an
      interrupted one). Promotions of a unit at different epochs are different moves and
      all kept; one whose unit or epoch is unknown is kept as it is.
    """
    ordered = sorted(
        {e for batch in batches for e in batch},
        key=lambda e: (e.at, e.kind, e.site or "", e.unit or "", e.epoch or 0),
    )
    promotions: set[tuple[str, int]] = set()
    kept = []
    for event in ordered:
        if event.kind == PROMOTED and event.unit is not None and event.epoch is not None:
            if (event.unit, event.epoch) in promotions:
                continue
            promotions.add((event.unit, event.epoch))
        kept.append(event)
    return kept


def leader_site(status: Mapping[str, Any], sites: Sequence[str]) -> str | None:
    """The site of the controller leader named in ``/v1/status`` (``leader`` as a site
    name, an id containing one, or an object with ``site``)."""
    leader = status.get("leader")
    if isinstance(leader, Mapping):
        leader = leader.get("site") or leader.get("id") or leader.get("name")
    if not isinstance(leader, str):
        return None
    if leader in sites:
        return leader
    matches = [s for s in sites if s in leader]
    return max(matches, key=len) if matches else None


def site_verdict(status: Mapping[str, Any], site: str) -> str | None:
    """The quorum verdict for ``site`` (``up``/``down``/...), lower case, or None."""
    sites = status.get("sites")
    entry: object = None
    if isinstance(sites, Mapping):
        entry = sites.get(site)
    elif isinstance(sites, list):
        entry = next((s for s in sites if isinstance(s, Mapping) and s.get("name") == site), None)
    if isinstance(entry, str):
        return entry.lower()
    if isinstance(entry, Mapping):
        for key in ("verdict", "state", "status", "health"):
            if isinstance(entry.get(key), str):
                return str(entry[key]).lower()
    return None


def pending_approvals(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Pending approvals listed in ``/v1/status`` (``pending_approvals`` or ``approvals``)."""
    raw = status.get("pending_approvals", status.get("approvals", []))
    if isinstance(raw, Mapping):
        raw = [{"id": k, **v} if isinstance(v, Mapping) else {"id": k} for k, v in raw.items()]
    if not isinstance(raw, list):
        return []
    pending = []
    for item in raw:
        if isinstance(item, Mapping) and item.get("id") is not None:
            state = str(item.get("state", item.get("status", "pending"))).lower()
            if state == "pending":
                pending.append(item)
    return pending


class ControllerError(RuntimeError):
    """No controller answered, or every one refused the request."""


class ControllerClient:
    """Talks to every controller URL; the first useful answer wins.

    The controller that answered last is asked first next time: a controller in a
    downed site may not refuse a connection but let it time out (a dead data center's
    address, on the docker platform or a real WAN), and a drill must not pay that wait
    on every request."""

    def __init__(
        self,
        urls: Sequence[str],
        client: httpx.AsyncClient,
        token: str | None = None,
        approver_tokens: Sequence[str] = (),
    ) -> None:
        """``token``: the operator credential (moves, failback); ``approver_tokens``: one
        per approver, presented by :meth:`approve` only (docs/security.md)."""
        self.urls = [u.rstrip("/") for u in urls]
        self._answered: str | None = None
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._approvers = [{"Authorization": f"Bearer {t}"} for t in approver_tokens]

    async def status(self) -> dict[str, Any] | None:
        """``/v1/status`` of the first controller that answers 200, else None."""
        for url in self._ordered():
            try:
                answer = await self.client.get(f"{url}/v1/status", timeout=TIMEOUT)
            except httpx.HTTPError:
                continue
            if answer.status_code == 200:
                body = answer.json()
                if isinstance(body, dict):
                    self._answered = url
                    return body
        return None

    def _ordered(self) -> list[str]:
        """The URLs, the one that answered last first."""
        first = [u for u in self.urls if u == self._answered]
        return first + [u for u in self.urls if u != self._answered]

    async def events(self, wall_started_at: float) -> list[ControllerEvent]:
        """Events of every reachable controller, merged (records may live per site).

        Raises :class:`ValueError` when a controller answers something that is not
        :class:`failover.events.EventPage` (the runner then keeps what it had)."""
        batches = []
        for url in self.urls:
            found = await self._all_events(url)
            batches.append(
                [drill_event(e, wall_started_at) for e in found if e.kind != wire.DRILL_NOTE]
            )
        return merge_events(*batches)

    async def _all_events(self, url: str) -> list[wire.Event]:
        """Every event of one controller, page by page (``since`` = last id seen)."""
        found: list[wire.Event] = []
        since = 0
        for _ in range(MAX_PAGES):
            try:
                answer = await self.client.get(
                    f"{url}/v1/events", params={"since": since, "limit": PAGE}, timeout=TIMEOUT
                )
            except httpx.HTTPError:
                break
            if answer.status_code != 200:
                break
            page = wire.read_page(answer.json()).events
            found.extend(page)
            if len(page) < PAGE:
                break
            since = max(e.id for e in page)
        return found

    async def post(self, path: str, body: Mapping[str, Any]) -> str:
        """POST with the operator credential to the first controller that accepts (2xx);
        its answer text is returned. Raises :class:`ControllerError` with every
        controller's answer otherwise."""
        return (await self._post(path, body, self.headers))[:500]

    async def note(self, drill: str, note: str) -> int:
        """Tell every controller what the drill just did (``POST /v1/drill-notes``, the
        operator credential), for each console's timeline. Best-effort: returns how many
        recorded it and never raises — a drill's verdict never depends on its notes."""
        recorded = 0
        for url in self.urls:
            try:
                answer = await self.client.post(
                    f"{url}/v1/drill-notes", json={"drill": drill[:200], "note": note[:1000]},
                    headers=self.headers, timeout=TIMEOUT,
                )  # fmt: skip
            except httpx.HTTPError:
                continue
            recorded += answer.is_success
        return recorded

    async def approve(self, approval_id: str, body: Mapping[str, Any]) -> str:
        """Approve as each approver in turn until the approval is granted: a topology's
        ``policy.distinct_approvers`` may ask for more than one, and each counts once.
        Raises :class:`ControllerError` when it is still pending after every approver."""
        path = f"/v1/approvals/{approval_id}"
        for headers in self._approvers:
            answer = await self._post(path, body, headers)
            try:
                status = json.loads(answer)["approval"]["status"]
            except (ValueError, KeyError, TypeError):
                return answer[:500]
            if status != "pending":
                return answer[:500]
        raise ControllerError(
            f"approval {approval_id} is still pending after all {len(self._approvers)} "
            "approvers of the platform approved it"
        )

    async def _post(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
        if not self.urls:
            raise ControllerError("no controller is running (controller_urls is empty)")
        problems = []
        for url in self._ordered():
            try:
                answer = await self.client.post(
                    f"{url}{path}", json=dict(body), headers=dict(headers), timeout=MOVE_TIMEOUT
                )
            except httpx.HTTPError as exc:
                problems.append(f"{url}: {type(exc).__name__}")
                continue
            if answer.is_success:
                self._answered = url
                return answer.text
            problems.append(f"{url}: {answer.status_code} {answer.text[:200]}")
        raise ControllerError(f"POST {path} refused: " + "; ".join(problems))
