"""Route rules on the in-memory store (pure, fast): the same contract the real etcd
tests check, plus what is awkward to provoke there (lost answers, outages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from failover.dcs import (
    CasFailed,
    Dcs,
    DcsOutcomeUnknown,
    DcsUnavailable,
    MemoryDcs,
    Route,
    RouteStore,
    TxnResult,
)
from failover.dcs.codec import canonical_json
from failover.topology import default_topology

TOPOLOGY = default_topology()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryDcs:
    return MemoryDcs(clock)


@pytest.fixture
def routes(store: MemoryDcs) -> RouteStore:
    dcs: Dcs = store  # the fake satisfies the port
    routes = RouteStore(dcs, "watertight")
    routes.seed(TOPOLOGY)
    return routes


def take_primary_lease(store: MemoryDcs, routes: RouteStore, unit: str, ttl: int = 3) -> int:
    lease = store.grant(ttl).id
    route = routes.route(unit)
    assert route is not None
    value = canonical_json({"site": route.site, "epoch": route.epoch})
    store.put(routes.keys.primary_lease(unit), value, lease=lease)
    return lease


def test_a_route_waits_for_the_primary_lease_to_expire_on_the_clock(
    store: MemoryDcs, routes: RouteStore, clock: Clock
) -> None:
    lease = take_primary_lease(store, routes, "u00", ttl=3)
    clock.now = 2.0
    store.keepalive(lease)
    clock.now = 4.9
    with pytest.raises(CasFailed, match="still has a primary lease"):
        routes.move_route("u00", 1, "same-city")
    clock.now = 5.0
    assert routes.move_route("u00", 1, "same-city") == Route("u00", "same-city", 2)


def test_every_route_change_reaches_route_watchers_as_a_full_table(
    store: MemoryDcs, routes: RouteStore
) -> None:
    tables: list[Mapping[str, Route]] = []
    handle = routes.watch_routes(tables.append)
    routes.move_route("u01", 1, "production")
    handle.stop()
    routes.move_route("u01", 2, "same-city")
    assert len(tables) == 2
    assert tables[-1]["u01"] == Route("u01", "production", 2)
    assert len(tables[-1]) == len(TOPOLOGY.units)


class LosesAnAnswer(MemoryDcs):
    """Applies the next transaction, then reports its answer lost (as after a timeout)."""

    lose_next = False

    def txn(self, *args: Any, **kwargs: Any) -> TxnResult:
        result = super().txn(*args, **kwargs)
        if self.lose_next:
            self.lose_next = False
            raise DcsOutcomeUnknown("answer lost (test)")
        return result


def test_a_move_whose_answer_was_lost_is_confirmed_by_rereading(clock: Clock) -> None:
    store = LosesAnAnswer(clock)
    routes = RouteStore(store, "watertight")
    routes.seed(TOPOLOGY)
    store.lose_next = True
    assert routes.move_route("u02", 1, "same-city") == Route("u02", "same-city", 2)


def test_a_lost_answer_for_a_move_that_did_not_happen_stays_unknown(clock: Clock) -> None:
    store = LosesAnAnswer(clock)
    routes = RouteStore(store, "watertight")
    routes.seed(TOPOLOGY)
    take_primary_lease(store, routes, "u02")
    store.lose_next = True
    with pytest.raises(DcsOutcomeUnknown):
        routes.move_route("u02", 1, "same-city")
    assert routes.route("u02") == Route("u02", "production", 1)


def test_an_unavailable_store_raises_dcs_unavailable(store: MemoryDcs, routes: RouteStore) -> None:
    store.available = False
    with pytest.raises(DcsUnavailable):
        routes.all_routes()


def test_a_route_may_skip_epochs_only_when_it_stays_in_its_site(routes: RouteStore) -> None:
    # u00 starts in production at epoch 1 (the default topology's placement).
    with pytest.raises(ValueError, match="from epoch 1 to epoch 5"):
        routes.move_route("u00", 1, "same-city", new_epoch=5)
    with pytest.raises(ValueError, match="from epoch 1 to epoch 1"):
        routes.move_route("u00", 1, "production", new_epoch=1)
    assert routes.move_route("u00", 1, "production", new_epoch=5) == Route("u00", "production", 5)
