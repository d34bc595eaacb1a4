"""A primary's recent entries: its links ship them from memory instead of reading the
database, so what is kept must be exactly what the database holds, committed, of the
replicator's epoch and without a gap; anything else is read from the database."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_receiver import entry
from unit_app_helpers import customer_of, settings_for

from app import journal
from app.database import Database
from app.errors import UnitError
from app.lease import NoLease
from app.protocol import EpochRange, HandshakeRequest, WireEntry
from app.replication import RECENT_ENTRIES, LinkConfig, Replicator
from app.roles import NodeRole
from app.schemas import TransactionRequest
from app.service import UnitService, build_service
from tests.raw_peer import http_answer, raw_peer, read_head


def replicator(epoch: int = 3) -> Replicator:
    return Replicator([], last_lsn=0, acks_needed=0, epoch=epoch)


def kept(lsns: range, epoch: int = 3) -> list[tuple[int, str]]:
    return [(lsn, f"entry {lsn} of epoch {epoch}") for lsn in lsns]


def test_a_link_reads_kept_entries_from_the_one_after_its_position() -> None:
    rep = replicator()
    rep.notify_appended(5, kept(range(1, 6)), epoch=3)
    assert rep.recent_after(2, limit=2) == ["entry 3 of epoch 3", "entry 4 of epoch 3"]
    assert rep.recent_after(0, limit=64) == [text for _, text in kept(range(1, 6))]


def test_a_position_outside_the_kept_entries_reads_the_database() -> None:
    rep = Replicator([], last_lsn=30, acks_needed=0, epoch=3)  # 30 entries before this primary
    assert rep.recent_after(0, limit=8) is None  # nothing kept yet
    rep.notify_appended(33, kept(range(31, 34)), epoch=3)
    assert rep.recent_after(29, limit=8) is None  # lsn 30 is older than the kept ones
    assert rep.recent_after(33, limit=8) == []  # caught up: nothing to ship


def test_entries_after_a_gap_replace_the_kept_ones() -> None:
    rep = replicator()
    rep.notify_appended(3, kept(range(1, 4)), epoch=3)
    rep.notify_appended(9, kept(range(7, 10)), epoch=3)
    assert rep.recent_after(1, limit=8) is None
    assert rep.recent_after(6, limit=8) == [text for _, text in kept(range(7, 10))]


def test_entries_of_another_epoch_are_not_kept_but_still_wake_the_links() -> None:
    rep = replicator(epoch=3)
    rep.notify_appended(4, kept(range(1, 5), epoch=2), epoch=2)
    assert rep.recent_after(0, limit=8) is None
    assert rep._last_lsn == 4


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 40), st.sampled_from([2, 3])), max_size=40
    ),
    st.integers(0, 2_000),
    st.integers(1, 64),
)
def test_kept_entries_are_never_other_than_the_journal_from_the_asked_position(
    commits: list[tuple[int, int, int]], position: int, limit: int
) -> None:
    """Commits of any size, some after a gap, some of an older epoch: whatever is served
    starts right after ``position``, has no gap and is the journal's own text."""
    rep, last = replicator(epoch=3), 0
    journal_text: dict[int, str] = {}
    for gap, size, epoch in commits:
        first = last + 1 + gap
        batch = kept(range(first, first + size), epoch)
        rep.notify_appended(first + size - 1, batch, epoch=epoch)
        journal_text.update(batch)
        last = first + size - 1
    served = rep.recent_after(position, limit)
    if served == []:
        assert position >= last  # nothing newer than the asked position was committed
    elif served is not None:
        assert 1 <= len(served) <= min(limit, RECENT_ENTRIES)
        assert served == [journal_text[position + 1 + i] for i in range(len(served))]


def test_an_applied_entry_is_kept_as_the_database_reads_it_back(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'unit.db'}")
    db.create_schema()
    with db.write() as session:
        written = [
            journal.apply_entry(session, WireEntry.model_validate(entry(lsn, delta=0)))
            for lsn in (1, 2, 3)
        ]
    with db.read() as session:
        assert journal.entries_json_after(session, 0, 10) == written
    db.dispose()


def primary(tmp_path: Path, lease: NoLease) -> UnitService:
    service = build_service(settings_for(tmp_path), lease)
    service.db.create_schema()
    service.node.start(NodeRole("primary", 4, "production"))
    return service


def write(service: UnitService, key: str) -> int:
    request = TransactionRequest(type="purchase", amount_minor=100, currency="CNY")
    status, _ = asyncio.run(service.writes.post(customer_of("u00"), key, request))
    return status


def test_a_committed_write_is_kept_as_the_database_holds_it(tmp_path: Path) -> None:
    service = primary(tmp_path, NoLease())
    try:
        assert write(service, "first") == 201
        assert write(service, "second") == 201
        assert write(service, "first") == 200  # a replay appends nothing
        rep = service.node.replicator
        assert rep is not None
        with service.db.read() as session:
            assert rep.recent_after(0, limit=10) == journal.entries_json_after(session, 0, 10)
    finally:
        service.writes.stop()
        service.node.stop()
        service.db.dispose()


class _FailingCheck(NoLease):
    """A lease whose check fails unexpectedly once armed: the last step inside the
    committer's transaction, after the entries were written in it."""

    armed = False

    def valid(self) -> bool:
        if self.armed:
            raise RuntimeError("etcd client crashed")
        return super().valid()


def test_a_group_commit_that_fails_keeps_nothing(tmp_path: Path) -> None:
    """The transaction rolls back after its entry was written in it: the links must not
    ship an entry the database does not hold."""
    lease = _FailingCheck()
    service = primary(tmp_path, lease)
    rep = service.node.replicator
    assert rep is not None
    lease.armed = True
    try:
        with pytest.raises(UnitError, match="the write failed: RuntimeError"):
            write(service, "doomed")
        assert service.node.replicator is rep  # still the primary, same links
        assert rep.recent_after(0, limit=10) == []  # nothing to ship
        with service.db.read() as session:
            assert journal.last_lsn(session) == 0
    finally:
        lease.armed = False
        service.writes.stop()
        service.node.stop()
        service.db.dispose()


class _Journal:
    """The primary's journal as a link reads it (its port, :class:`JournalSource`)."""

    def __init__(self) -> None:
        self.entries: dict[int, str] = {}

    def entries_after(self, lsn: int, limit: int) -> list[str]:
        return [self.entries[n] for n in sorted(self.entries) if n > lsn][:limit]

    def handshake_request(self) -> HandshakeRequest:
        last = max(self.entries, default=0)
        ranges = [EpochRange(epoch=1, first_lsn=1, last_lsn=last)] if last else []
        return HandshakeRequest(
            epoch=1, primary_site="production", last_lsn=last, epoch_ranges=ranges
        )


@contextmanager
def _standby() -> Iterator[tuple[str, list[int]]]:
    """A standby over a real socket that applies whatever it is sent; yields its URL and
    the lsns it received, in order."""
    received: list[int] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            data = read_head(conn)
            if data is None:
                return
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))  # fmt: skip
            while len(body) < length:
                body += conn.recv(65536)
            request = json.loads(body)
            received.extend(entry["lsn"] for entry in request.get("entries", []))
            applied = max(received, default=0)
            reply = {"status": "applied", "applied_lsn": applied, "epoch": 1, "discarded": 0}
            conn.sendall(http_answer("200 OK", json.dumps(reply).encode()))

    with raw_peer(answer) as (url, _):
        yield url, received


def test_an_entry_never_announced_to_the_links_is_still_shipped() -> None:
    """Committed while the replicator was being set up (so never announced to it): read
    from the database after the handshake, and after a quiet heartbeat interval."""
    journal_ = _Journal()
    journal_.entries[1] = json.dumps({"lsn": 1})
    with _standby() as (url, received):
        config = LinkConfig("same-city", url, lambda: {}, 1, "production", 64, 0.2, 1.0)
        rep = Replicator([config], last_lsn=0, acks_needed=1, epoch=1)
        rep.start(journal_, lambda _epoch, _detail: None)
        try:
            assert _eventually(lambda: received == [1])
            journal_.entries[2] = json.dumps({"lsn": 2})  # committed, never announced
            assert _eventually(lambda: received == [1, 2])
        finally:
            rep.stop()


def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
