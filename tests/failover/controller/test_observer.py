"""Observers: counters, published reports, and probes that notice a hung peer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from harness import World
from prometheus_client import generate_latest

from app.traffic import TrafficCounters
from failover.observer.counters import next_counts
from failover.observer.probes import Prober
from failover.observer.report import PublishedReport
from failover.topology import Timing
from tests.raw_peer import http_answer, raw_peer, read_head


def test_counters_count_consecutive_failures_and_reset_on_success() -> None:
    counts = next_counts({}, {"a": False, "b": True})
    counts = next_counts(counts, {"a": False, "b": False})
    assert counts == {"a": 2, "b": 1}
    assert next_counts(counts, {"a": True}) == {"a": 0}


def test_a_round_publishes_the_report_under_a_lease(world: World) -> None:
    world.units.down.add("production")
    world.observers["same-city"].run_round()
    world.observers["same-city"].run_round()
    stored = world.dcs.get(world.keys.observer("same-city"))
    assert stored is not None and stored.lease != 0
    report = PublishedReport.decode(stored.value)
    assert report.site_failures == {"production": 2, "remote-dr": 0}
    assert report.instance_failures["u00", "production"] == 2
    assert report.instance_failures["u01", "same-city"] == 0
    assert report.units["u01"]["same-city"]["role"] == "primary"


def test_a_report_keeps_the_traffic_of_instances_that_took_writes_and_drops_zero_counters(
    world: World,
) -> None:
    busy, idle = TrafficCounters(), TrafficCounters()
    busy.record("purchase", "approved", 0.01)
    world.units.traffic["u01", "same-city"] = busy
    world.units.traffic["u01", "production"] = idle
    world.observers["same-city"].run_round()
    stored = world.dcs.get(world.keys.observer("same-city"))
    assert stored is not None
    seen = PublishedReport.decode(stored.value).units["u01"]
    assert seen["same-city"]["traffic"]["writes"]["purchase/approved"] == 1
    assert "traffic" not in seen["production"]


def test_the_observers_metrics_show_the_failed_rounds_it_published(world: World) -> None:
    world.units.down.add("production")
    observer = world.observers["same-city"]
    observer.run_round()
    observer.run_round()
    text = generate_latest(observer.metrics.registry).decode()
    assert 'watertight_observer_site_failed_rounds{site="production"} 2.0' in text
    assert 'watertight_observer_instance_failed_rounds{site="production",unit="u00"} 2.0' in text
    assert "watertight_observer_rounds_total 2.0" in text
    assert "watertight_observer_publish_failures_total 0.0" in text


def test_a_report_survives_encoding() -> None:
    report = PublishedReport("remote-dr", 12.5, {"production": 1}, {("u00", "production"): 3})
    assert PublishedReport.decode(report.encode()) == report


@pytest.fixture
def hung_server() -> Iterator[str]:
    """Accepts TCP connections and never answers (like a SIGSTOPped process)."""
    held: list[socket.socket] = []
    with raw_peer(held.append) as (url, _):
        yield url
    for conn in held:
        conn.close()


def test_a_peer_that_accepts_and_never_answers_is_not_reached(hung_server: str) -> None:
    timing = Timing(probe_interval_seconds=0.3, probe_timeout_seconds=0.1)
    prober = Prober(timing)
    try:
        result = prober.round({("u00", "production"): hung_server}, {"production": hung_server})
    finally:
        prober.close()
    assert not result.instances["u00", "production"].reached
    assert result.sites == {"production": False}


def test_an_answering_peer_is_reached_and_its_body_kept() -> None:
    body = json.dumps({"role": "primary", "epoch": 1}).encode()

    def answer(conn: socket.socket) -> None:
        with conn:
            read_head(conn)
            conn.sendall(http_answer("200 OK", body))

    prober = Prober(Timing(probe_interval_seconds=1.0))
    try:
        with raw_peer(answer) as (url, _):
            result = prober.round({("u00", "production"): url}, {})
    finally:
        prober.close()
    assert result.instances["u00", "production"].body == {"role": "primary", "epoch": 1}


def test_a_refused_connection_is_tried_once_more_and_the_peer_not_reached() -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        prober = Prober(Timing(probe_interval_seconds=1.0), sleep=sleep)
        try:
            result = prober.round({("u00", "production"): url}, {"production": url})
        finally:
            prober.close()
    assert not result.instances["u00", "production"].reached
    assert result.sites == {"production": False}
    assert slept == [0.05, 0.05]  # one pause for each of the two probes


def test_rounds_reuse_one_kept_connection_per_peer() -> None:
    body = json.dumps({"role": "standby"}).encode()

    def answer(conn: socket.socket) -> None:
        with conn:
            for _ in range(3):
                read_head(conn)
                conn.sendall(http_answer("200 OK", body))

    prober = Prober(Timing(probe_interval_seconds=1.0))
    try:
        with raw_peer(answer) as (url, accepted):
            rounds = [prober.round({("u00", "production"): url}, {}) for _ in range(3)]
    finally:
        prober.close()
    assert all(r.instances["u00", "production"].reached for r in rounds)
    assert len(accepted) == 1
