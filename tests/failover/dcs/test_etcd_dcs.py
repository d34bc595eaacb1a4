"""The adapter against a real 3-member etcd: KV, transactions, leases, watches, quorum."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

import pytest

from failover.dcs import (
    Compare,
    DcsUnavailable,
    Delete,
    EtcdDcs,
    LeaseNotFound,
    Put,
    WatchEvent,
    WatchKind,
    WatchUpdate,
)
from infra.local.etcd_cluster import EtcdCluster

pytestmark = pytest.mark.integration


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        time.sleep(0.1)


def next_update(updates: queue.Queue[WatchUpdate], timeout: float = 15.0) -> WatchUpdate:
    return updates.get(timeout=timeout)


def test_put_get_prefix_and_delete_round_trip(dcs: EtcdDcs) -> None:
    dcs.put("/t/a/1", "one")
    dcs.put("/t/a/2", "two")
    dcs.put("/t/b", "other")
    kv = dcs.get("/t/a/1")
    assert kv is not None and kv.value == "one" and kv.version == 1
    assert sorted(dcs.get_prefix("/t/a/")) == ["/t/a/1", "/t/a/2"]
    assert dcs.delete("/t/a/", prefix=True) == 2
    assert dcs.get("/t/a/1") is None
    assert dcs.get("/t/b") is not None


def test_a_transaction_applies_only_when_every_compare_holds(dcs: EtcdDcs) -> None:
    created = dcs.txn([Compare.absent("/t/cas")], [Put("/t/cas", "v1")])
    again = dcs.txn([Compare.absent("/t/cas")], [Put("/t/cas", "v2")], [Put("/t/lost", "x")])
    assert created.succeeded and not again.succeeded
    assert dcs.get("/t/lost") is not None  # the failure branch ran instead
    swapped = dcs.txn(
        [Compare.value_is("/t/cas", "v1"), Compare.version_is("/t/cas", 1)],
        [Put("/t/cas", "v3"), Delete("/t/lost")],
    )
    assert swapped.succeeded
    kv = dcs.get("/t/cas")
    assert kv is not None and kv.value == "v3" and kv.version == 2
    assert dcs.get("/t/lost") is None
    assert not dcs.txn([Compare.value_is("/t/cas", "v1")], [Put("/t/cas", "v4")]).succeeded


def test_a_lease_kept_alive_outlives_its_ttl_and_an_abandoned_one_expires(dcs: EtcdDcs) -> None:
    kept, abandoned = dcs.grant(2), dcs.grant(2)
    dcs.put("/t/kept", "x", lease=kept.id)
    dcs.put("/t/abandoned", "x", lease=abandoned.id)
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        assert dcs.keepalive(kept.id) > 0
        time.sleep(0.4)
    assert dcs.get("/t/kept") is not None
    wait_for(lambda: dcs.get("/t/abandoned") is None)
    assert dcs.ttl(abandoned.id) == -1
    with pytest.raises(LeaseNotFound):
        dcs.keepalive(abandoned.id)
    dcs.revoke(kept.id)
    assert dcs.get("/t/kept") is None
    dcs.revoke(kept.id)  # revoking twice is not an error


def test_a_prefix_watch_starts_with_a_snapshot_then_streams_changes_in_order(
    dcs: EtcdDcs,
) -> None:
    dcs.put("/t/w/existing", "0")
    updates: queue.Queue[WatchUpdate] = queue.Queue()
    handle = dcs.watch_prefix("/t/w/", updates.put)
    try:
        first = next_update(updates)
        assert first.kind is WatchKind.SNAPSHOT
        assert set(first.snapshot) == {"/t/w/existing"}
        dcs.put("/t/w/new", "1")
        dcs.put("/t/elsewhere", "not watched")
        dcs.delete("/t/w/existing")
        events: list[WatchEvent] = []
        while len(events) < 2:
            update = next_update(updates)
            assert update.kind is WatchKind.CHANGES
            events.extend(update.events)
        assert [(e.key, e.value) for e in events] == [("/t/w/new", "1"), ("/t/w/existing", None)]
    finally:
        handle.stop()


def test_one_member_down_still_serves_two_down_fail_and_watches_resync(
    own_cluster: EtcdCluster,
) -> None:
    urls = own_cluster.client_urls
    dcs = EtcdDcs(list(urls.values()), timeout=0.5)
    first_site = next(iter(urls))
    updates: queue.Queue[WatchUpdate] = queue.Queue()
    handle = dcs.watch_prefix("/t/", updates.put)  # connects to the first endpoint
    try:
        assert next_update(updates).kind is WatchKind.SNAPSHOT
        own_cluster.stop_member(first_site)
        dcs.put("/t/after-one-down", "ok")
        assert dcs.get("/t/after-one-down") is not None
        seen: set[str] = set()
        while "/t/after-one-down" not in seen:
            update = next_update(updates)
            seen |= set(update.snapshot) | {e.key for e in update.events}
        second_site = list(urls)[1]
        own_cluster.stop_member(second_site)
        with pytest.raises(DcsUnavailable, match="majority of etcd members"):
            dcs.put("/t/after-two-down", "lost")
    finally:
        handle.stop()
        dcs.close()
