"""Gray faults inside one unit instance, the same on every platform: set or cleared through
the instance's own admin-credential API (``POST /admin/gray-fault``), and cleared again by
a ``heal`` for every instance whose fault the journal says still stands."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from failover.credentials import Role, read_token
from failover.tls import client_verify

GRAY_TIMEOUT_SECONDS = 5.0


class GrayFaultError(RuntimeError):
    """An instance did not take a gray fault; the message names it and says why."""


def post_gray_fault(
    name: str, base_url: str, credentials_dir: Path, body: Mapping[str, object]
) -> dict[str, object]:
    """Send ``body`` to the instance ``name`` answering at ``base_url`` and return its view
    of the fault. Raises :class:`GrayFaultError` when it cannot be reached or refuses (its
    422 names the field at fault)."""
    token = read_token(credentials_dir, Role.ADMIN)
    try:
        answer = httpx.post(f"{base_url}/admin/gray-fault", json=dict(body),
                            headers={"Authorization": f"Bearer {token}"},
                            timeout=GRAY_TIMEOUT_SECONDS, verify=client_verify())  # fmt: skip
    except httpx.HTTPError as exc:
        raise GrayFaultError(f"{name} did not take the gray fault: {exc}") from exc
    if answer.status_code != 200:
        raise GrayFaultError(f"{name} refused the gray fault: {answer.text}")
    view: dict[str, object] = answer.json()
    return view


def gray_body(mode: str, delay_ms: int | None) -> dict[str, object]:
    """The request that sets (or with ``mode`` ``none`` clears) a gray fault."""
    return {"mode": mode} if delay_ms is None else {"mode": mode, "delay_ms": delay_ms}


def gray_entry(
    unit: str, site: str, mode: str, view: Mapping[str, object]
) -> tuple[str, dict[str, object]]:
    """What ``gray-unit`` journals, from the instance's answer: its sentence and details."""
    what = {"none": "cleared", "decline-all": "declines every write"}.get(
        mode, f"delays every write by {view.get('delay_ms')} ms"
    )
    sentence = f"gray fault on {unit} in {site}: {what} (probes untouched)"
    return sentence, {"unit": unit, "site": site, "mode": mode, "delay_ms": view.get("delay_ms")}


def standing_grays(journal: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(unit, site)`` of every instance whose gray fault the fault journal says still
    stands: set by ``gray-unit``, not cleared since by ``--mode none`` or a ``heal``
    (which journals the instances it cleared as ``gray_cleared``)."""
    standing: set[tuple[str, str]] = set()
    for entry in journal:
        where = (str(entry.get("unit")), str(entry.get("site")))
        if entry.get("action") == "gray-unit" and entry.get("mode") == "none":
            standing.discard(where)
        elif entry.get("action") == "gray-unit":
            standing.add(where)
        elif entry.get("action") == "heal":
            standing -= {(str(u), str(s)) for u, s in entry.get("gray_cleared") or []}
    return sorted(standing)


def clear_standing_grays(
    journal: Sequence[Mapping[str, Any]], clear: Callable[[str, str], object]
) -> tuple[list[tuple[str, str]], str]:
    """Call ``clear(unit, site)`` for every standing gray fault. Returns those cleared and
    the tail of the heal's sentence naming them and any that could not be reached (a
    downed site's instance; its restart clears the fault anyway). ``clear`` raises a
    :class:`RuntimeError` (:class:`GrayFaultError`, a platform's error) when it cannot."""
    cleared, missed = [], []
    for unit, site in standing_grays(journal):
        try:
            clear(unit, site)
            cleared.append((unit, site))
        except RuntimeError:
            missed.append(f"{unit} in {site}")
    names = ", ".join(f"{u} in {s}" for u, s in cleared)
    tail = f"; gray fault cleared on {names}" if cleared else ""
    if missed:
        tail += f"; gray fault not cleared on {', '.join(missed)} (unreachable)"
    return cleared, tail
