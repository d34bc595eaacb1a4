"""Pure tests of the wire encoding, the key layout and the route codec."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.dcs import DcsError, Keys, Route
from failover.dcs.codec import canonical_json, compare_json, operation_json, prefix_end
from failover.dcs.policies import watch_backoff
from failover.dcs.port import Compare, Delete, Put


def decoded(text: str) -> bytes:
    return base64.b64decode(text)


@given(st.text(min_size=1, max_size=40).filter(lambda t: not t.endswith("\U0010ffff")))
def test_prefix_end_is_above_every_key_with_the_prefix(prefix: str) -> None:
    end = decoded(prefix_end(prefix))
    raw = prefix.encode()
    assert raw < end
    assert raw + b"\xff\xff" < end


def test_keys_live_under_the_topology_root() -> None:
    keys = Keys("watertight")
    assert keys.route("u00") == "/watertight/watertight/routes/u00"
    assert keys.primary_lease("u03") == "/watertight/watertight/leases/primary/u03"
    assert keys.leader == "/watertight/watertight/leader"
    assert keys.observer("remote-dr") == "/watertight/watertight/observers/remote-dr"
    assert keys.freeze == "/watertight/watertight/freeze"
    assert keys.unit_of(keys.route("u07"), keys.routes_prefix) == "u07"


def test_routes_encode_canonically_so_transactions_can_compare_them() -> None:
    route = Route("u00", "production", 4)
    assert route.encode() == '{"epoch":4,"site":"production"}'
    assert route.encode() == canonical_json({"site": "production", "epoch": 4})
    assert Route.decode("u00", route.encode()) == route


def test_a_malformed_route_names_the_unit() -> None:
    with pytest.raises(DcsError, match="route of unit u01"):
        Route.decode("u01", "not json")


def test_compares_and_operations_use_etcds_field_names() -> None:
    assert compare_json(Compare.absent("k")) == {
        "key": "aw==",
        "target": "CREATE",
        "result": "EQUAL",
        "create_revision": "0",
    }
    assert decoded(compare_json(Compare.value_is("k", "v"))["value"]) == b"v"
    assert compare_json(Compare.version_is("k", 3))["version"] == "3"
    assert operation_json(Put("k", "v", lease=7))["request_put"]["lease"] == "7"
    assert "range_end" in operation_json(Delete("p/", prefix=True))["request_delete_range"]


def test_watch_backoff_grows_and_is_capped() -> None:
    waits = [watch_backoff(n) for n in range(1, 10)]
    assert waits == sorted(waits)
    assert waits[-1] <= 3.0
