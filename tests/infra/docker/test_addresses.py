"""Where the docker platform's networks and containers sit: never on a subnet the engine
already uses (another platform, a stuck network), each site's WAN addresses in its own
block (pure)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.docker.containers import ADDRESS_POOL, free_subnets, host_address, site_block

POOL_SUBNETS = [str(s) for s in ADDRESS_POOL.subnets(new_prefix=20)]


@given(st.lists(st.sampled_from(POOL_SUBNETS), max_size=40), st.integers(1, 4))
def test_chosen_subnets_overlap_nothing_in_use_nor_each_other(used: list[str], count: int) -> None:
    chosen = [ipaddress.ip_network(s) for s in free_subnets([*used, "172.17.0.0/16"], count)]
    assert len(chosen) == count
    taken = [ipaddress.ip_network(u) for u in used]
    assert not any(c.overlaps(t) for c in chosen for t in taken)
    assert len(set(chosen)) == count and all(c.subnet_of(ADDRESS_POOL) for c in chosen)


def test_a_pool_with_no_room_left_is_refused_saying_so() -> None:
    with pytest.raises(ValueError, match="no 1 free /20 subnets"):
        free_subnets([str(ADDRESS_POOL)], 1)


def test_an_ipv6_network_in_use_is_no_obstacle() -> None:
    assert free_subnets(["fd00::/64"], 1) == [POOL_SUBNETS[0]]


@given(st.integers(0, 2), st.integers(0, 200))
def test_a_sites_wan_address_lies_in_its_own_block(block: int, index: int) -> None:
    address = ipaddress.ip_address(host_address("10.208.48.0/20", index, block))
    assert address in ipaddress.ip_network(site_block("10.208.48.0/20", block))
