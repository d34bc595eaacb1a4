"""The trend watch on the real local platform: one unit's customers start being
declined (purchases over their credit limit) while every probe stays green; the
controllers warn for that unit and no other, and nothing fails over. Slow."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from controller_helpers import (
    RunningPlatform,
    all_sites_up,
    customers_by_unit,
    events,
    routes,
    wait_for,
    watertight,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[3]
BAD_UNIT = "u03"
#: Windows short enough for a test: warm after 15 s, a departure held 5 s warns.
QUICK_TRENDS = {
    "baseline_half_life_seconds": 60,
    "current_half_life_seconds": 3,
    "warmup_seconds": 15,
    "hold_seconds": 5,
}


class Shoppers:
    """Two threads buying through the router for two customers of every unit; once
    ``overspend`` is set, the bad unit's customers buy beyond their credit limit."""

    def __init__(self, router_url: str, customers: dict[str, list[str]]) -> None:
        self.url, self.customers = router_url, customers
        self.overspend, self.stop = threading.Event(), threading.Event()
        self.answers: list[tuple[str, int, str]] = []
        pairs = [(u, c) for u, cs in sorted(customers.items()) for c in cs]
        self.threads = [
            threading.Thread(target=self._run, args=(pairs[i::2],), daemon=True) for i in (0, 1)
        ]

    def _run(self, pairs: list[tuple[str, str]]) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.is_set():
                for unit, customer in pairs:
                    over = unit == BAD_UNIT and self.overspend.is_set()
                    body = {"type": "purchase", "amount_minor": 10**9 if over else 1,
                            "currency": "CNY"}  # fmt: skip
                    try:
                        answer = client.post(
                            f"{self.url}/v1/customers/{customer}/transactions", json=body,
                            headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
                        )  # fmt: skip
                        status = (
                            answer.json().get("status", "") if answer.status_code == 201 else ""
                        )
                        self.answers.append((unit, answer.status_code, status))
                    except httpx.HTTPError:
                        self.answers.append((unit, 0, ""))


def test_a_unit_whose_customers_are_declined_raises_a_trend_warning_and_nothing_moves(
    tmp_path: Path,
) -> None:
    spec = yaml.safe_load((REPO / "topology.yaml").read_text())
    spec["trends"] = {**spec.get("trends", {}), **QUICK_TRENDS}
    topology = tmp_path / "topology.yaml"
    topology.write_text(yaml.safe_dump(spec))
    state_dir = tmp_path / "p"
    up = watertight("up", "--json", "--state-dir", str(state_dir), "--topology", str(topology))
    assert up.returncode == 0, up.stderr
    platform = RunningPlatform(state_dir, json.loads(up.stdout))
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        before = routes(platform)
        shoppers = Shoppers(
            platform.info["router_url"], customers_by_unit(platform.info["router_url"])
        )
        for thread in shoppers.threads:
            thread.start()
        start = time.time()
        time.sleep(QUICK_TRENDS["warmup_seconds"] + 10)
        assert not [e for e in events(platform) if e["kind"] == "trend_warning"]
        shoppers.overspend.set()
        declined_at = time.time()
        warned = wait_for(
            f"a trend warning for {BAD_UNIT}",
            lambda: [
                e for e in events(platform)
                if e["kind"] == "trend_warning" and e["unit"] == BAD_UNIT
            ],
            timeout=40,
        )  # fmt: skip
        lead = warned[0]["at"] - declined_at
        print(f"trend warning for {BAD_UNIT} {lead:.1f} s after its declines began")
        shoppers.stop.set()
        for thread in shoppers.threads:
            thread.join(timeout=10)
        assert warned[0]["data"]["trend"] == "decline_ratio", warned[0]
        assert lead < 30, lead
        warnings = [e for e in events(platform) if e["kind"] == "trend_warning"]
        others = [(e["unit"], e["summary"]) for e in warnings if e["unit"] not in {BAD_UNIT, None}]
        assert others == [], others
        declined = [a for a in shoppers.answers if a[0] == BAD_UNIT and a[2] == "declined"]
        assert declined, "the bad unit's customers were never declined"
        assert routes(platform) == before
        moved = [e for e in events(platform) if e["kind"] == "promoted" and e["at"] >= start]
        assert moved == []
    finally:
        watertight("down", "--state-dir", str(state_dir))
