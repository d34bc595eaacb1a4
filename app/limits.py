"""Request body limits of the unit service: 413 before one byte too many is read.

:class:`~failover.body_limit.BodyLimit` refuses a request whose ``Content-Length`` is
above its path's limit without reading the body, and counts the bytes of a body without
one (chunked) as they arrive, answering 413 as soon as the count passes the limit. The
error names the limit:
``{"error": "body_too_large", "detail": "... limit of 65536 bytes ..."}``.

Limits (docs/unit-service.md, "Limits and bad input"):

- ``/replication/*`` carries batches of journal entries: :func:`replication_body_limit`
  of the topology's ``replication.batch_size``;
- everything else (ledger writes, admin) takes small JSON objects: :data:`API_BODY_LIMIT`.

The middleware itself is the one every watertight service uses
(:mod:`failover.body_limit`); this module only says the unit service's limits.
"""

from __future__ import annotations

from collections.abc import Callable

from failover.body_limit import API_BODY_LIMIT, BODY_TOO_LARGE, BodyLimit

__all__ = ["API_BODY_LIMIT", "BODY_TOO_LARGE", "UNIT_LIMITS", "BodyLimit", "unit_body_limits"]

UNIT_LIMITS = "docs/unit-service.md, Limits and bad input"
ENTRY_BYTES_MAX = 4 * 1024
"""Room per journal entry in a shipment: 2.5 times the largest one measured (1 595 bytes:
64-character customer id, 128-character key, a 128-character merchant of control
characters, which JSON escapes to six bytes each)."""
REPLICATION_BODY_FLOOR = 1024 * 1024


def replication_body_limit(batch_size: int) -> int:
    """The limit of a replication request for shipments of ``batch_size`` entries."""
    return max(REPLICATION_BODY_FLOOR, batch_size * ENTRY_BYTES_MAX)


def unit_body_limits(batch_size: int) -> Callable[[str], int]:
    """The unit service's limit for a request path."""
    replication = replication_body_limit(batch_size)

    def limit_of(path: str) -> int:
        return replication if path.startswith("/replication/") else API_BODY_LIMIT

    return limit_of
