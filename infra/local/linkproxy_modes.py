"""Pure logic of the link proxies: what a link's mode does to connections and chunks.

A *link* joins two sites and is symmetric: one mode applies to traffic in both
directions and for both (a→b and b→a) connections. Modes:

- ``pass`` — forward as is.
- ``blackhole`` — accept and hold, like a dead route: new connections are accepted but
  never reach the destination, and existing ones stop forwarding in both directions. The
  client sees a timeout, never an error. Data already sent waits in the proxy; if the
  link comes back before the client gives up, it is delivered (as after a route flap).
- ``refuse`` — new connections are reset at once; existing ones are reset too.
- ``latency`` — every chunk waits ``latency_ms ± jitter_ms`` (uniform) in each
  direction; order is kept.
- ``drop`` — each *new* connection is blackholed with probability ``drop_fraction``
  (it stays held while the mode is ``drop``); the others pass.

A mode change applies to existing connections at once (etcd and HTTP keep-alive
connections live long).

Apart from its mode, a link has a standing *base delay*: the one-way time it takes to
cross the distance between its sites. It is not a fault: every forwarded chunk pays it
in every mode, ``heal`` and ``pass`` keep it, and ``latency`` adds on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ModeKind = Literal["pass", "blackhole", "refuse", "latency", "drop"]


class LinkMode(BaseModel):
    """The mode of a link. Fields other than ``kind`` matter only for their kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ModeKind = "pass"
    latency_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    drop_fraction: Annotated[float, Field(ge=0, le=1)] = 0.0

    def describe(self) -> str:
        if self.kind == "latency":
            return f"latency {self.latency_ms:g}±{self.jitter_ms:g} ms"
        if self.kind == "drop":
            return f"drop {self.drop_fraction:.0%} of new connections"
        return self.kind


BaseDelayMs = Annotated[float, Field(ge=0, le=60_000, allow_inf_nan=False)]
"""A link's standing one-way delay in milliseconds."""


class BaseDelay(BaseModel):
    """The body that sets a link's base delay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_delay_ms: BaseDelayMs


PASS = LinkMode()
BLACKHOLE = LinkMode(kind="blackhole")
REFUSE = LinkMode(kind="refuse")


class Admission(StrEnum):
    """What happens to a new connection."""

    FORWARD = "forward"
    HOLD = "hold"
    DROP = "drop"  # held for as long as the link stays in ``drop`` mode
    REFUSE = "refuse"


class Action(StrEnum):
    """What happens to the next chunk of an established connection."""

    FORWARD = "forward"
    HOLD = "hold"
    CLOSE = "close"


def admit(mode: LinkMode, draw: float) -> Admission:
    """Decide for a new connection; ``draw`` is uniform in [0, 1)."""
    if mode.kind == "refuse":
        return Admission.REFUSE
    if mode.kind == "blackhole":
        return Admission.HOLD
    if mode.kind == "drop" and draw < mode.drop_fraction:
        return Admission.DROP
    return Admission.FORWARD


def chunk_action(mode: LinkMode, dropped: bool) -> Action:
    """Decide for a chunk of a connection; ``dropped``: the connection was dropped at
    admission (it stays held while the link is in ``drop`` mode)."""
    if mode.kind == "refuse":
        return Action.CLOSE
    if mode.kind == "blackhole" or (dropped and mode.kind == "drop"):
        return Action.HOLD
    return Action.FORWARD


def chunk_delay(mode: LinkMode, draw: float, base_ms: float = 0.0) -> float:
    """Seconds a forwarded chunk waits; ``draw`` is uniform in [0, 1), ``base_ms`` (≥ 0)
    the link's base delay. Always at least ``base_ms``: the mode's ``latency ± jitter``
    (clamped at zero) adds on top, so jitter never shortens the distance itself."""
    added = 0.0
    if mode.kind == "latency":
        added = max(0.0, mode.latency_ms + mode.jitter_ms * (2.0 * draw - 1.0))
    return (base_ms + added) / 1000.0


def unknown_source_mode(modes_into_destination: Iterable[LinkMode]) -> LinkMode:
    """Mode for a peer connection whose source member is unknown (no ``X-Server-From``):
    if every link into the destination has the same mode (e.g. the site is isolated),
    that mode — whoever the source is, it crosses one of them; otherwise ``pass``."""
    distinct = set(modes_into_destination)
    return distinct.pop() if len(distinct) == 1 else PASS


def unknown_source_base_ms(delays_from_member_sites: Iterable[float]) -> float:
    """Base delay for a peer connection whose source member is unknown: the least of the
    delays into the destination from the sites that have an etcd member (whoever sent it
    crossed one of those links), so it is never overcharged; 0 while none is known."""
    return min(delays_from_member_sites, default=0.0)


def link_key(a: str, b: str) -> tuple[str, str]:
    """The symmetric key of the link between two different sites."""
    if a == b:
        raise ValueError(f"a link joins two different sites, got {a!r} twice")
    return (a, b) if a < b else (b, a)


def server_from(head: bytes) -> str | None:
    """The ``X-Server-From`` header of an HTTP request head (etcd's rafthttp names the
    sending member's id in hex there), lower-cased; None if absent."""
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"x-server-from":
            return value.strip().decode("ascii", errors="replace").lower()
    return None
