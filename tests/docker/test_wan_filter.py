"""The docker platform's WAN cuts and gateway redirects, in the host's real iptables: the
redirects of a pair of sites are jumped to exactly while the cuts leave the pair joined,
and removal leaves no chain behind. Needs root and iptables (CI has both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from infra.docker.wan_filter import WanFilter, WanRedirects

pytestmark = pytest.mark.docker

BLOCKS = ["10.250.1.0/24", "10.250.2.0/24", "10.250.3.0/24"]


@pytest.fixture
def firewall() -> Iterator[tuple[WanFilter, WanRedirects]]:
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        pytest.skip("needs root and iptables")
    platform_id = uuid.uuid4().hex[:8]
    cuts, redirects = WanFilter(platform_id), WanRedirects(platform_id)
    try:
        yield cuts, redirects
    finally:
        cuts.remove()
        redirects.remove()


def jumped_pairs(redirects: WanRedirects) -> set[str]:
    listed = subprocess.run(["iptables", "-t", "nat", "-S", redirects.chain],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {line.split()[-1].removeprefix(f"{redirects.chain}-")
            for line in listed.splitlines() if f"-j {redirects.chain}-" in line}  # fmt: skip


def test_cut_pairs_lose_their_redirects_and_heal_brings_them_back(
    firewall: tuple[WanFilter, WanRedirects],
) -> None:
    cuts, redirects = firewall
    for i, j in ((i, j) for i in range(3) for j in range(3) if i != j):
        gateway = (f"10.250.{i + 1}.250", 40000)
        redirects.redirect((i, j), (f"10.250.{j + 1}.10", 8100), gateway)
    cuts.cut(BLOCKS[0], BLOCKS[1])
    redirects.follow(BLOCKS, cuts.cuts())
    assert jumped_pairs(redirects) == {"0-2", "2-0", "1-2", "2-1"}
    cuts.isolate(BLOCKS[2])
    assert set(cuts.cuts()) >= {(BLOCKS[2], "*"), ("*", BLOCKS[2])}
    redirects.follow(BLOCKS, cuts.cuts())
    assert jumped_pairs(redirects) == set()
    cuts.clear()
    redirects.follow(BLOCKS, cuts.cuts())
    assert jumped_pairs(redirects) == {"0-1", "1-0", "0-2", "2-0", "1-2", "2-1"}


def test_removal_leaves_no_chain_or_jump_behind(firewall: tuple[WanFilter, WanRedirects]) -> None:
    cuts, redirects = firewall
    redirects.exempt("10.250.1.250")
    redirects.redirect((0, 1), ("10.250.2.10", 8100), ("10.250.1.250", 40000))
    cuts.cut(BLOCKS[0], BLOCKS[1])
    cuts.remove()
    redirects.remove()
    assert cuts.cuts() == [] and redirects.chains() == []
    prerouting = subprocess.run(["iptables", "-t", "nat", "-S", "PREROUTING"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert redirects.chain not in prerouting
