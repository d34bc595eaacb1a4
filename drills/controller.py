"""The controller's HTTP API as drills read it (docs/design.md §5), parsed leniently.

Drills only *read* the controller for three things: its events (detection time and a
second count of promotions), its status (leader site, site verdicts, pending approvals,
for ``wait-until`` and ``$leader``) and to ask for operator moves. Measurements never
trust these answers for RTO/RPO/split brain: those come from the load generator.

Contract expected from ``GET /v1/events`` (documented in ``docs/drills.md``): a JSON list
of objects, or ``{"events": [...]}``; each with ``kind``, a time (``at``, ``time`` or
``timestamp``: Unix seconds, or ISO 8601), and optional ``site``, ``unit``, ``epoch``
(or ``new_epoch``), ``detail``. Kinds are normalised (``_`` → ``-``, lower case);
:data:`SITE_DOWN_KINDS` become ``site-down`` and :data:`PROMOTED_KINDS` become
``promoted``; others are kept as they are and only shown in the report.

The pure parsing functions are tested on their own; :class:`ControllerClient` does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from drills.measure import PROMOTED, SITE_DOWN, ControllerEvent

SITE_DOWN_KINDS = frozenset(
    {"site-down", "site-declared-down", "site-verdict-down", "declared-down"}
)
PROMOTED_KINDS = frozenset({"promoted", "unit-promoted", "promotion-done", "promote-unit-done"})
TIMEOUT = httpx.Timeout(2.0)
#: A planned move of a whole site moves its units one after another (~2 s each on two
#: busy cores: drain, lease gone, catch-up, promote); 10 s cut a failback of four short.
MOVE_TIMEOUT = httpx.Timeout(60.0, connect=2.0)
PAGE = 1000
MAX_PAGES = 50


def normalize_kind(kind: str) -> str:
    """``site_declared_down`` → ``site-down``; ``unit_promoted`` → ``promoted``."""
    plain = kind.strip().lower().replace("_", "-").replace(" ", "-")
    if plain in SITE_DOWN_KINDS:
        return SITE_DOWN
    if plain in PROMOTED_KINDS:
        return PROMOTED
    return plain


def unix_time(raw: Mapping[str, Any]) -> float | None:
    """The event's Unix time in seconds, from ``at``/``time``/``timestamp``; else None."""
    for key in ("at", "time", "timestamp", "ts"):
        value = raw.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            return float(value) / 1000.0 if value > 1e12 else float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def parse_events(payload: object, wall_started_at: float) -> list[ControllerEvent]:
    """Controller events on the drill clock (seconds since ``wall_started_at``).

    Entries without a kind or a readable time are dropped: an event we cannot place in
    time cannot be measured.
    """
    items = payload.get("events", []) if isinstance(payload, Mapping) else payload
    if not isinstance(items, list):
        return []
    events = []
    for raw in items:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("kind"), str):
            continue
        at = unix_time(raw)
        if at is None:
            continue
        events.append(
            ControllerEvent(
                at=round(at - wall_started_at, 6),
                kind=normalize_kind(raw["kind"]),
                site=_text(raw.get("site") or raw.get("to_site")),
                unit=_text(raw.get("unit")),
                epoch=_int(raw.get("epoch", raw.get("new_epoch"))),
                detail=str(raw.get("detail") or raw.get("reason") or ""),
            )
        )
    return events


def merge_events(*batches: Iterable[ControllerEvent]) -> list[ControllerEvent]:
    """Union of event lists from several controllers, time ordered, duplicates removed:
    equal events, and a promotion recorded again for the same unit and epoch (a new
    leader completing an interrupted one) — the earliest is kept."""
    ordered = sorted(
        {e for batch in batches for e in batch},
        key=lambda e: (e.at, e.kind, e.site or "", e.unit or "", e.epoch or 0),
    )
    promotions: set[tuple[str | None, int | None]] = set()
    kept = []
    for event in ordered:
        if event.kind == PROMOTED:
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
    """Talks to every controller URL; the first useful answer wins."""

    def __init__(
        self, urls: Sequence[str], client: httpx.AsyncClient, token: str | None = None
    ) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def status(self) -> dict[str, Any] | None:
        """``/v1/status`` of the first controller that answers 200, else None."""
        for url in self.urls:
            try:
                answer = await self.client.get(f"{url}/v1/status", timeout=TIMEOUT)
            except httpx.HTTPError:
                continue
            if answer.status_code == 200:
                body = answer.json()
                if isinstance(body, dict):
                    return body
        return None

    async def events(self, wall_started_at: float) -> list[ControllerEvent]:
        """Events of every reachable controller, merged (records may live per site)."""
        batches = []
        for url in self.urls:
            raw = await self._all_events(url)
            batches.append(parse_events(raw, wall_started_at))
        return merge_events(*batches)

    async def _all_events(self, url: str) -> list[Any]:
        """Every event of one controller, page by page (``since`` = last id seen)."""
        found: list[Any] = []
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
            body = answer.json()
            page = body.get("events", []) if isinstance(body, dict) else body
            if not isinstance(page, list):
                break
            found.extend(page)
            ids = [e["id"] for e in page if isinstance(e, dict) and isinstance(e.get("id"), int)]
            if len(page) < PAGE or len(ids) < len(page):
                break
            since = max(ids)
        return found

    async def post(self, path: str, body: Mapping[str, Any]) -> str:
        """POST to the first controller that accepts (2xx); its answer text is returned.

        Raises :class:`ControllerError` with every controller's answer otherwise.
        """
        if not self.urls:
            raise ControllerError("no controller is running (controller_urls is empty)")
        problems = []
        for url in self.urls:
            try:
                answer = await self.client.post(
                    f"{url}{path}", json=dict(body), headers=self.headers, timeout=MOVE_TIMEOUT
                )
            except httpx.HTTPError as exc:
                problems.append(f"{url}: {type(exc).__name__}")
                continue
            if answer.is_success:
                return answer.text[:500]
            problems.append(f"{url}: {answer.status_code} {answer.text[:200]}")
        raise ControllerError(f"POST {path} refused: " + "; ".join(problems))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
