"""Cuts between sites on the WAN network: host firewall rules (iptables), the only
module of the docker platform that touches them.

Every site's containers sit in their own /24 of the WAN network
(infra/docker/containers.py), and the WAN is one Linux bridge whose frames pass the
host's FORWARD chain (``br_netfilter``, which dockerd enables). The platform keeps its
rules in its own chain ``WT-<platform id>``, jumped to first from Docker's ``DOCKER-USER``
chain, so ``heal`` flushes only its own rules and ``down`` leaves none behind.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

DOCKER_CHAIN = "DOCKER-USER"
TIMEOUT_SECONDS = 30


class WanFilterError(RuntimeError):
    """A firewall rule could not be set or removed; the message says why."""


class WanFilter:
    """The platform's chain of WAN cuts."""

    def __init__(self, platform_id: str) -> None:
        self.chain = f"WT-{platform_id}"

    def _iptables(self, *args: str, check: bool = True) -> bool:
        binary = shutil.which("iptables")
        if binary is None:
            raise WanFilterError("iptables not found: a partition on the docker platform needs it")
        done = subprocess.run(
            [binary, "-w", "5", *args], capture_output=True, text=True,
            timeout=TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise WanFilterError(
                f"iptables {' '.join(args)} failed: {done.stderr.strip()} "
                "(partitions on the docker platform need root and dockerd's DOCKER-USER chain)"
            )
        return done.returncode == 0

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
        binary = shutil.which("iptables") or "iptables"
        listed = subprocess.run(
            [binary, "-w", "5", "-S", self.chain], capture_output=True, text=True,
            timeout=TIMEOUT_SECONDS, check=False,
        ).stdout  # fmt: skip
        return [_pair(line.split()) for line in listed.splitlines() if line.startswith("-A ")]

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


def _pair(words: Sequence[str]) -> tuple[str, str]:
    """(source, destination) of a rule; ``*`` for a side it does not name."""

    def side(flag: str) -> str:
        return words[words.index(flag) + 1] if flag in words else "*"

    return side("-s"), side("-d")
