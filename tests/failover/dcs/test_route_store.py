"""Routes in a real etcd: seeding, the fenced move with epoch bump, and route watches."""

from __future__ import annotations

import queue
import time
from collections.abc import Mapping

import pytest

from failover.dcs import CasFailed, EtcdDcs, Route, RouteStore
from failover.dcs.codec import canonical_json
from failover.topology import default_topology

pytestmark = pytest.mark.integration
TOPOLOGY = default_topology()


@pytest.fixture
def routes(dcs: EtcdDcs) -> RouteStore:
    store = RouteStore(dcs, "test")
    store.seed(TOPOLOGY)
    return store


def hold_primary_lease(dcs: EtcdDcs, store: RouteStore, unit: str, ttl: int = 2) -> int:
    route = store.route(unit)
    assert route is not None
    lease = dcs.grant(ttl).id
    value = canonical_json({"site": route.site, "epoch": route.epoch})
    dcs.put(store.keys.primary_lease(unit), value, lease=lease)
    return lease


def test_seeding_puts_every_unit_at_its_placed_primary_at_epoch_one(routes: RouteStore) -> None:
    table = routes.all_routes()
    assert set(table) == set(TOPOLOGY.units)
    assert table["u00"] == Route("u00", "production", 1)
    assert table["u01"] == Route("u01", "same-city", 1)


def test_seeding_again_never_rewinds_a_moved_route(routes: RouteStore) -> None:
    moved = routes.move_route("u02", 1, "same-city")
    routes.seed(TOPOLOGY)
    assert routes.route("u02") == moved == Route("u02", "same-city", 2)


def test_a_route_does_not_move_while_the_primary_lease_exists(
    dcs: EtcdDcs, routes: RouteStore
) -> None:
    lease = hold_primary_lease(dcs, routes, "u00", ttl=30)
    with pytest.raises(CasFailed, match="still has a primary lease"):
        routes.move_route("u00", 1, "same-city")
    assert routes.route("u00") == Route("u00", "production", 1)
    dcs.revoke(lease)
    assert routes.move_route("u00", 1, "same-city") == Route("u00", "same-city", 2)


def test_a_route_moves_once_the_primary_lease_expired(dcs: EtcdDcs, routes: RouteStore) -> None:
    hold_primary_lease(dcs, routes, "u03", ttl=2)
    with pytest.raises(CasFailed):
        routes.move_route("u03", 1, "production")
    deadline = time.monotonic() + 15
    while dcs.get(routes.keys.primary_lease("u03")) is not None:
        assert time.monotonic() < deadline, "the lease key never expired"
        time.sleep(0.2)
    assert routes.move_route("u03", 1, "production").epoch == 2


def test_a_stale_epoch_cannot_move_a_route(routes: RouteStore) -> None:
    routes.move_route("u04", 1, "same-city")
    with pytest.raises(CasFailed, match="not 1") as raised:
        routes.move_route("u04", 1, "remote-dr")
    assert raised.value.found == Route("u04", "same-city", 2)


def test_route_watchers_see_the_whole_table_then_each_move(
    dcs: EtcdDcs, routes: RouteStore
) -> None:
    tables: queue.Queue[Mapping[str, Route]] = queue.Queue()
    handle = routes.watch_routes(tables.put)
    try:
        assert len(tables.get(timeout=10)) == len(TOPOLOGY.units)
        routes.move_route("u05", 1, "production")
        table = tables.get(timeout=10)
        assert table["u05"] == Route("u05", "production", 2)
        assert len(table) == len(TOPOLOGY.units)
    finally:
        handle.stop()
