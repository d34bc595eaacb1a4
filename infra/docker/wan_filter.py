"""Cuts between sites on the WAN network, and the redirects through each site's WAN
gateway: host firewall rules (iptables), the only module of the docker platform that
touches them.

Every site's containers sit in their own /24 of the WAN network
(infra/docker/containers.py), and the WAN is one Linux bridge whose frames pass the
host's FORWARD chain (``br_netfilter``, which dockerd enables). The platform keeps its
rules in its own chain ``WT-<platform id>``, jumped to first from Docker's ``DOCKER-USER``
chain, so ``heal`` flushes only its own rules and ``down`` leaves none behind.

The redirects (:class:`WanRedirects`) live in the nat table, in the platform's chain
``WTN-<platform id>`` jumped to from ``PREROUTING``: a connection from one site's block to
an endpoint of another site is sent to the port of the site's gateway that forwards to
that endpoint (infra/docker/wan_gateways.py). NAT happens before the filter, and the
gateway's own connections leave from its site's block, so the cuts above still apply.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

DOCKER_CHAIN = "DOCKER-USER"
TIMEOUT_SECONDS = 30


class WanFilterError(RuntimeError):
    """A firewall rule could not be set or removed; the message says why."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("iptables")
    if binary is None:
        raise WanFilterError("iptables not found: the docker platform's WAN needs it")
    return subprocess.run(
        [binary, "-w", "5", *args], capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip


def _iptables(*args: str, check: bool = True) -> bool:
    """Run ``iptables`` with ``args``; whether it succeeded. With ``check`` a failure raises
    :class:`WanFilterError` with iptables' own words."""
    done = _run(*args)
    if check and done.returncode != 0:
        raise WanFilterError(
            f"iptables {' '.join(args)} failed: {done.stderr.strip()} "
            "(the docker platform's WAN needs root and dockerd's DOCKER-USER chain)"
        )
    return done.returncode == 0


def _rules(*args: str) -> list[list[str]]:
    """The words of each line ``iptables -S`` prints for ``args`` (none when it fails)."""
    return [line.split() for line in _run("-S", *args).stdout.splitlines()]


class WanFilter:
    """The platform's chain of WAN cuts."""

    def __init__(self, platform_id: str) -> None:
        self.chain = f"WT-{platform_id}"

    def _iptables(self, *args: str, check: bool = True) -> bool:
        return _iptables(*args, check=check)

    def _ensure_chain(self) -> None:
        if not self._iptables("-n", "-L", self.chain, check=False):
            self._iptables("-N", self.chain)
        if not self._iptables("-C", DOCKER_CHAIN, "-j", self.chain, check=False):
            self._iptables("-I", DOCKER_CHAIN, "1", "-j", self.chain)

    def cut(self, a_block: str, b_block: str) -> None:
        """Drop every packet between the two blocks, both ways."""
        self._ensure_chain()
        for source, destination in ((a_block, b_block), (b_block, a_block)):
            self._iptables("-A", self.chain, "-s", source, "-d", destination, "-j", "DROP")

    def isolate(self, block: str) -> None:
        """Drop every WAN packet from or to ``block`` (a site cut off as a whole)."""
        self._ensure_chain()
        for direction in ("-s", "-d"):
            self._iptables("-A", self.chain, direction, block, "-j", "DROP")

    def rejoin(self, block: str) -> None:
        """Undo :meth:`isolate` of ``block`` (cuts between two sites stay)."""
        for direction in ("-s", "-d"):
            while self._iptables("-D", self.chain, direction, block, "-j", "DROP", check=False):
                pass

    def cuts(self) -> list[tuple[str, str]]:
        """(source, destination) of every standing cut."""
        if not self._iptables("-n", "-L", self.chain, check=False):
            return []
        return [_pair(words) for words in _rules(self.chain) if words[:1] == ["-A"]]

    def clear(self) -> None:
        """Remove every cut (the chain stays, empty)."""
        if self._iptables("-n", "-L", self.chain, check=False):
            self._iptables("-F", self.chain)

    def remove(self) -> None:
        """Remove the chain and its jump; nothing of the platform's stays in the firewall."""
        if shutil.which("iptables") is None:
            return
        while self._iptables("-D", DOCKER_CHAIN, "-j", self.chain, check=False):
            pass
        if self._iptables("-n", "-L", self.chain, check=False):
            self._iptables("-F", self.chain)
            self._iptables("-X", self.chain)


class WanRedirects:
    """The platform's redirects through the sites' WAN gateways (nat table).

    One chain per ordered pair of sites (``WTN-<id>-<i>-<j>``, sites by index) holds the
    redirects of site i's connections to site j's endpoints; the platform's chain
    ``WTN-<id>`` jumps to it while the pair is not cut. A cut pair's new connections thus
    go straight to the far side and meet the cut: the dialler sees no answer to its SYN
    (a connect timeout), as across a real WAN, rather than a gateway that accepts and then
    holds. Connections already through a gateway stay there and meet the cut behind it.
    """

    def __init__(self, platform_id: str) -> None:
        self.chain = f"WTN-{platform_id}"

    def _nat(self, *args: str, check: bool = True) -> bool:
        return _iptables("-t", "nat", *args, check=check)

    def _ensure(self, chain: str) -> None:
        if not self._nat("-n", "-L", chain, check=False):
            self._nat("-N", chain)

    def _ensure_main(self) -> None:
        self._ensure(self.chain)
        if not self._nat("-C", "PREROUTING", "-j", self.chain, check=False):
            self._nat("-I", "PREROUTING", "1", "-j", self.chain)

    def _pair_chain(self, pair: tuple[int, int]) -> str:
        return f"{self.chain}-{pair[0]}-{pair[1]}"

    def exempt(self, gateway: str) -> None:
        """Leave ``gateway``'s own connections alone (they are the forwarded ones)."""
        self._ensure_main()
        self._nat("-I", self.chain, "1", "-s", gateway, "-j", "RETURN")

    def redirect(
        self, pair: tuple[int, int], endpoint: tuple[str, int], gateway: tuple[str, int]
    ) -> None:
        """Send TCP connections of site ``pair[0]`` to ``endpoint`` (address, port) of site
        ``pair[1]`` to ``gateway`` (address, port) instead, while the pair is not cut."""
        chain = self._pair_chain(pair)
        self._ensure(chain)
        address, port = endpoint
        self._nat("-A", chain, "-d", address, "-p", "tcp", "--dport", str(port), "-j", "DNAT",
                  "--to-destination", f"{gateway[0]}:{gateway[1]}")  # fmt: skip

    def follow(self, blocks: Sequence[str], cuts: Sequence[tuple[str, str]]) -> None:
        """Jump to each pair's redirects exactly while :class:`WanFilter` ``cuts`` (as
        :meth:`WanFilter.cuts` lists them) leave that pair uncut. ``blocks``: the sites'
        WAN blocks, by index."""
        self._ensure_main()
        for i, source in enumerate(blocks):
            for j, destination in enumerate(blocks):
                if i == j:
                    continue
                cut = any(s in (source, "*") and d in (destination, "*") for s, d in cuts)
                jump = ("-s", source, "-d", destination, "-j", self._pair_chain((i, j)))
                present = self._nat("-C", self.chain, *jump, check=False)
                if cut and present:
                    self._nat("-D", self.chain, *jump)
                elif not cut and not present:
                    self._nat("-A", self.chain, *jump)

    def chains(self) -> list[str]:
        """The platform's nat chains that exist now."""
        if shutil.which("iptables") is None:
            return []
        names = [words[1] for words in _rules("-t", "nat") if words[:1] == ["-N"]]
        return [n for n in names if n == self.chain or n.startswith(f"{self.chain}-")]

    def remove(self) -> None:
        """Remove every chain of the platform and the jump to them."""
        if shutil.which("iptables") is None:
            return
        while self._nat("-D", "PREROUTING", "-j", self.chain, check=False):
            pass
        chains = self.chains()
        for chain in chains:
            self._nat("-F", chain)
        for chain in chains:
            self._nat("-X", chain)


def _pair(words: Sequence[str]) -> tuple[str, str]:
    """(source, destination) of a rule; ``*`` for a side it does not name."""

    def side(flag: str) -> str:
        return words[words.index(flag) + 1] if flag in words else "*"

    return side("-s"), side("-d")
