"""Free loopback TCP ports for the local platform, chosen where nobody else will take them.

A planned port is found free, released, and bound later by the process it is meant for.
If it came from the kernel's ephemeral range (what ``bind(0)`` and outgoing connections
use), anything binding port 0 in between — the link proxy creates its listeners exactly
so, and every client connection takes a source port — could take it, and a request meant
for one unit could reach another listener. So planned ports come from *below* the
ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``), which the kernel never
hands out on its own; a random starting point keeps concurrent platforms apart.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PLANNED_SPAN = 12_000
LOWEST_PORT = 10_000


def planned_range() -> range:
    """Ports we plan from: the ``PLANNED_SPAN`` ports just below the ephemeral range."""
    try:
        low = int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux default
    start = max(LOWEST_PORT, low - PLANNED_SPAN)
    if low - start < 1_000:  # an unusual ephemeral range: fall back to above it
        return range(50_000, 60_000)
    return range(start, low)


def free_port(host: str = LOOPBACK) -> int:
    """One currently free TCP port on ``host`` outside the ephemeral range."""
    return free_ports(1, host)[0]


def free_ports(
    count: int,
    host: str = LOOPBACK,
    rng: random.Random | None = None,
    avoid: frozenset[int] = frozenset(),
) -> list[int]:
    """``count`` distinct free TCP ports on ``host`` from :func:`planned_range`, none in
    ``avoid`` (ports promised elsewhere but not bound yet).

    All are held bound until all are found, so the answer has no duplicates; ports from
    *separate* calls may repeat until their processes bind them, so plan a whole
    platform in one call. Raises ``OSError`` if the range has fewer than ``count``.
    """
    candidates = planned_range()
    offset = (rng or random.SystemRandom()).randrange(len(candidates))
    sockets: list[socket.socket] = []
    try:
        for i in range(len(candidates)):
            if len(sockets) == count:
                break
            port = candidates[(offset + i) % len(candidates)]
            if port in avoid:
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
        if len(sockets) < count:
            raise OSError(f"only {len(sockets)} free ports in {candidates}, needed {count}")
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if nothing listens on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
