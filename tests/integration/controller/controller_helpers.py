"""Helpers for the controller's end-to-end tests: the real platform, a writing client,
and polling of the controllers' API."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from platform_helpers import RunningPlatform, start_platform, watertight

__all__ = ["RunningPlatform", "start_platform", "watertight"]

BODY = {"type": "purchase", "amount_minor": 1, "currency": "CNY"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def leader_status(platform: RunningPlatform) -> dict[str, Any] | None:
    """The leader's ``/v1/status`` (None when no controller says it leads)."""
    for url in platform.info["controller_urls"]:
        try:
            answer = httpx.get(f"{url}/v1/status", timeout=2.0).json()
        except (httpx.HTTPError, ValueError):
            continue
        if answer.get("is_leader"):
            return dict(answer)
    return None


def routes(platform: RunningPlatform) -> dict[str, tuple[str, int]]:
    status = leader_status(platform) or {}
    return {u: (v["primary_site"], v["epoch"]) for u, v in status.get("units", {}).items()}


def all_sites_up(platform: RunningPlatform) -> bool:
    status = leader_status(platform)
    if not status or not status["sites"]:
        return False
    return all(v["state"] == "up" for v in status["sites"].values())


def events(platform: RunningPlatform) -> list[dict[str, Any]]:
    """Every reachable controller's events, oldest first."""
    found: list[dict[str, Any]] = []
    for url in platform.info["controller_urls"]:
        try:
            found.extend(httpx.get(f"{url}/v1/events", timeout=3.0).json()["events"])
        except (httpx.HTTPError, ValueError, KeyError):
            continue
    return sorted(found, key=lambda e: (e["at"], e["id"]))


def unit_roles(platform: RunningPlatform) -> dict[str, dict[str, tuple[str, int]]]:
    """``unit -> site -> (role, epoch)`` of every instance that answers (direct, no proxy)."""
    state = json.loads((platform.state_dir / "platform.json").read_text())
    found: dict[str, dict[str, tuple[str, int]]] = {}
    with httpx.Client(timeout=1.0) as client:
        for record in state["processes"].values():
            if record["kind"] != "unit":
                continue
            url = f"http://127.0.0.1:{record['env']['WATERTIGHT_PORT']}/v1/unit"
            try:
                body = client.get(url).json()
            except (httpx.HTTPError, ValueError):
                continue
            found.setdefault(record["unit"], {})[record["site"]] = (body["role"], body["epoch"])
    return found


def one_primary_per_unit(platform: RunningPlatform) -> bool:
    """Every unit has exactly one instance saying primary: the one its route names, at
    the route's epoch."""
    table = routes(platform)
    roles = unit_roles(platform)
    if not table or set(table) != set(roles):
        return False
    for unit, (site, epoch) in table.items():
        primaries = [(s, e) for s, (role, e) in roles[unit].items() if role == "primary"]
        if primaries != [(site, epoch)]:
            return False
    return True


def last_fault_at(platform: RunningPlatform) -> float:
    """When the last fault was applied (Unix seconds, from the platform's fault journal)."""
    lines = (platform.state_dir / "faults.jsonl").read_text().splitlines()
    return float(json.loads(lines[-1])["at"])


def customers_by_unit(router_url: str, per_unit: int = 2) -> dict[str, list[str]]:
    """A few customer ids for every unit (the router says which unit a customer hashes to)."""
    found: dict[str, list[str]] = {}
    with httpx.Client(timeout=5.0) as client:
        for i in range(400):
            customer = f"cust-{i}"
            unit = client.get(f"{router_url}/v1/routes/{customer}").json()["unit"]
            if len(found.setdefault(unit, [])) < per_unit:
                found[unit].append(customer)
            if len(found) == 8 and all(len(v) == per_unit for v in found.values()):
                break
    return found


@dataclass
class Attempt:
    at: float
    unit: str
    status: int  # 0: no answer


@dataclass
class Writer:
    """Writes continuously through the router, retrying each key until acknowledged."""

    router_url: str
    customers: dict[str, list[str]]
    acknowledged: list[tuple[str, str, str]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int = 2) -> None:
        pairs = [(u, c) for u, cs in sorted(self.customers.items()) for c in cs]
        for i in range(threads):
            mine = pairs[i::threads]
            thread = threading.Thread(target=self._run, args=(mine,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, pairs: list[tuple[str, str]]) -> None:
        with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
            while not self._stop.is_set():
                for unit, customer in pairs:
                    if self._stop.is_set():
                        return
                    self._write(client, unit, customer)

    def _write(self, client: httpx.Client, unit: str, customer: str) -> None:
        key = f"k-{uuid.uuid4().hex}"
        url = f"{self.router_url}/v1/customers/{customer}/transactions"
        for _ in range(20):
            try:
                answer = client.post(url, json=BODY, headers={"Idempotency-Key": key})
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            self.attempts.append(Attempt(time.time(), unit, status))
            if status in (200, 201):
                self.acknowledged.append((customer, answer.json()["transaction_id"], unit))
                return
            if self._stop.is_set():
                return
            time.sleep(0.2)

    def succeeded_since(self, since: float) -> set[str]:
        return {a.unit for a in self.attempts if a.at >= since and a.status in (200, 201)}

    def lost(self) -> list[tuple[str, str, str]]:
        """Acknowledged transactions that cannot be read back through the router."""
        missing = []
        with httpx.Client(timeout=10.0) as client:
            for customer, tid, unit in self.acknowledged:
                url = f"{self.router_url}/v1/customers/{customer}/transactions/{tid}"
                if client.get(url).status_code != 200:
                    missing.append((customer, tid, unit))
        return missing
