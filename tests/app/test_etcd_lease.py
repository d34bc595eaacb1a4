"""The etcd primary lease: deadline logic on a fake clock and fake store (our own port),
then the real thing against a 3-member etcd that loses its quorum."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.etcd_client import EtcdClient, EtcdStoreError, canonical_json
from app.etcd_lease import KEEPALIVE_RETRY_SECONDS, EtcdPrimaryLease, FenceDeadline
from app.lease import LeaseUnavailable
from app.settings import UnitSettings
from failover.topology import default_topology
from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.supervisor import Supervisor

TTL, MARGIN = 3, 1.0  # FenceDeadline arithmetic in the pure tests below
# What a lease built from the default topology uses (topology.yaml timing).
LEASE_TTL = default_topology().timing.primary_lease_ttl_seconds
LEASE_MARGIN = default_topology().timing.fence_margin_seconds
KEY = "/watertight/watertight/leases/primary/u00"
ROUTE = "/watertight/watertight/routes/u00"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeStore:
    """In-memory :class:`app.etcd_client.LeaseStore`; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, int]] = {}
        self.leases: set[int] = set()
        self.next_id = 1
        self.down = False
        self.revoked: list[int] = []

    def _check(self) -> None:
        if self.down:
            raise EtcdStoreError("etcd is down (fake)")

    def grant(self, ttl: int) -> tuple[int, int]:
        self._check()
        self.next_id += 1
        self.leases.add(self.next_id)
        return self.next_id, ttl

    def keepalive(self, lease_id: int) -> int:
        self._check()
        return LEASE_TTL if lease_id in self.leases else 0

    def revoke(self, lease_id: int) -> None:
        self._check()
        self.revoked.append(lease_id)
        self.expire(lease_id)

    def expire(self, lease_id: int) -> None:
        self.leases.discard(lease_id)
        self.keys = {k: v for k, v in self.keys.items() if v[1] != lease_id}

    def get(self, key: str) -> tuple[str, int] | None:
        self._check()
        return self.keys.get(key)

    def claim(self, key: str, value: str, lease_id: int, route_key: str, route: str | None) -> bool:
        self._check()
        current_route = self.keys.get(route_key)
        if key in self.keys or (current_route[0] if current_route else None) != route:
            return False
        self.keys[key] = (value, lease_id)
        return True


def settings(**extra: object) -> UnitSettings:
    return UnitSettings(unit="u00", site="production", **extra)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def lease(clock: FakeClock, store: FakeStore) -> EtcdPrimaryLease:
    return EtcdPrimaryLease(
        settings(), clock=clock, store=store, background=False, sleep=lambda _: None
    )


def test_the_deadline_counts_from_when_the_keepalive_was_sent_not_answered() -> None:
    deadline = FenceDeadline(ttl=TTL, margin=MARGIN)
    deadline.start(sent_at=0.0)
    deadline.renewed(sent_at=1.0, now=1.9)  # answered late: still counts from 1.0
    assert deadline.valid(2.99)
    assert not deadline.valid(3.0)


def test_a_late_answer_cannot_revive_a_lapsed_deadline() -> None:
    deadline = FenceDeadline(ttl=TTL, margin=MARGIN)
    deadline.start(sent_at=0.0)
    deadline.renewed(sent_at=1.5, now=2.5)  # answered after the 2.0 deadline
    assert not deadline.valid(2.6)
    deadline.renewed(sent_at=2.7, now=2.8)
    assert not deadline.valid(2.8)


def test_an_older_send_never_moves_the_deadline_back() -> None:
    deadline = FenceDeadline(ttl=TTL, margin=MARGIN)
    deadline.start(sent_at=1.0)
    deadline.renewed(sent_at=0.5, now=1.1)
    assert deadline.valid(2.9)


def test_an_acquired_lease_is_valid_until_ttl_minus_margin_without_keepalive(
    lease: EtcdPrimaryLease, clock: FakeClock, store: FakeStore
) -> None:
    lease.acquire("u00", "production", 1)
    assert store.keys[KEY][0] == canonical_json({"site": "production", "epoch": 1})
    clock.advance(LEASE_TTL - LEASE_MARGIN - 0.01)
    assert lease.valid()
    clock.advance(0.02)
    assert not lease.valid()
    assert not lease.keepalive_once()  # stays invalid: a new assignment is needed
    assert not lease.valid()


def test_keepalives_extend_validity_while_etcd_answers(
    lease: EtcdPrimaryLease, clock: FakeClock
) -> None:
    lease.acquire("u00", "production", 1)
    for _ in range(10):
        clock.advance(0.5)
        assert lease.keepalive_once()
    assert lease.valid()


def test_failed_keepalives_fence_at_the_deadline_of_the_last_good_send(
    lease: EtcdPrimaryLease, clock: FakeClock, store: FakeStore
) -> None:
    lease.acquire("u00", "production", 1)
    clock.advance(0.5)
    assert lease.keepalive_once()  # last good send at +0.5 → deadline +0.5 + TTL - margin
    store.down = True
    clock.advance(1.0)
    assert lease.keepalive_once()
    clock.advance(LEASE_TTL - LEASE_MARGIN - 1.0 - 0.01)
    assert lease.valid()
    clock.advance(0.02)
    assert not lease.valid()
    store.down = False
    assert not lease.keepalive_once()


class ScriptedStop(threading.Event):
    """The keepalive loop's stop event: records each pause, advances the fake clock by
    it, lets ``script`` change the store before each round, stops after the script."""

    def __init__(self, clock: FakeClock, script: list[Callable[[], None]]) -> None:
        super().__init__()
        self.clock, self.script = clock, script
        self.pauses: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        self.clock.advance(timeout or 0.0)
        if not self.script:
            return True
        self.script.pop(0)()
        return False


def test_after_a_failed_keepalive_the_loop_retries_at_once_then_resumes_its_pace(
    lease: EtcdPrimaryLease, clock: FakeClock, store: FakeStore
) -> None:
    lease.acquire("u00", "production", 1)

    def down() -> None:
        store.down = True

    def up() -> None:
        store.down = False

    stop = ScriptedStop(clock, [down, down, up, up])
    lease._keepalive_loop(stop)
    assert stop.pauses == [
        lease.interval,
        KEEPALIVE_RETRY_SECONDS,
        KEEPALIVE_RETRY_SECONDS,
        lease.interval,
        lease.interval,
    ]
    assert lease.valid()


class HeldStore(FakeStore):
    """Keepalives are held (as an etcd member holds them during a raft election) until
    ``elected`` is set; the test watches how many are started meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.held = False
        self.elected = threading.Event()
        self.started = 0
        self.third_started = threading.Event()

    def keepalive(self, lease_id: int) -> int:
        if self.held:
            self.started += 1
            if self.started >= 3:
                self.third_started.set()
            self.elected.wait(timeout=30)
        return super().keepalive(lease_id)


def test_while_a_keepalive_is_held_further_ones_start_without_waiting_for_it() -> None:
    # Waiting out each held attempt before sending the next left up to a request
    # timeout between the end of an etcd election and the first renewal after it.
    store = HeldStore()
    lease = EtcdPrimaryLease(settings(), store=store, background=False)
    lease.acquire("u00", "production", 1)
    store.held = True
    stop = threading.Event()
    loop = threading.Thread(target=lease._keepalive_loop, args=(stop,), daemon=True)
    loop.start()
    try:
        assert store.third_started.wait(timeout=30), "only one keepalive was in flight"
        store.elected.set()
    finally:
        stop.set()
        store.elected.set()
        loop.join(timeout=30)
    assert lease.valid()


def test_the_keepalive_loop_ends_once_the_lease_lapsed(
    lease: EtcdPrimaryLease, clock: FakeClock, store: FakeStore
) -> None:
    lease.acquire("u00", "production", 1)

    def down_for_good() -> None:
        store.down = True
        clock.advance(LEASE_TTL)

    stop = ScriptedStop(clock, [down_for_good, down_for_good, down_for_good])
    lease._keepalive_loop(stop)
    assert stop.pauses == [lease.interval]  # the first failed round found the deadline passed
    assert not lease.valid()


def test_a_lease_gone_on_etcd_fences_at_once(lease: EtcdPrimaryLease, store: FakeStore) -> None:
    lease.acquire("u00", "production", 1)
    assert lease.lease_id is not None
    store.expire(lease.lease_id)
    assert not lease.keepalive_once()
    assert not lease.valid()


def test_a_key_held_by_another_site_is_refused(lease: EtcdPrimaryLease, store: FakeStore) -> None:
    store.keys[KEY] = (canonical_json({"site": "same-city", "epoch": 2}), 999)
    with pytest.raises(LeaseUnavailable, match="same-city"):
        lease.acquire("u00", "production", 2)
    assert not lease.valid()


def test_a_route_at_another_epoch_is_refused(lease: EtcdPrimaryLease, store: FakeStore) -> None:
    store.keys[ROUTE] = (canonical_json({"site": "production", "epoch": 2}), 0)
    with pytest.raises(LeaseUnavailable, match="controller has moved on"):
        lease.acquire("u00", "production", 1)
    lease.acquire("u00", "production", 2)
    assert lease.valid()


def test_after_a_restart_a_stale_key_of_the_same_instance_is_taken_once_it_expired(
    clock: FakeClock, store: FakeStore
) -> None:
    stale = (canonical_json({"site": "production", "epoch": 1}), 555)
    store.keys[KEY] = stale
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)
        if len(waits) == 5:
            store.keys.pop(KEY)  # the previous process's lease expired on etcd

    lease = EtcdPrimaryLease(settings(), clock=clock, store=store, background=False, sleep=sleep)
    lease.acquire("u00", "production", 1)
    assert lease.valid() and store.keys[KEY][1] == lease.lease_id
    assert len(waits) == 5


def test_a_stale_key_kept_alive_by_a_twin_is_never_taken_over(
    clock: FakeClock, store: FakeStore
) -> None:
    store.keys[KEY] = (canonical_json({"site": "production", "epoch": 1}), 555)
    lease = EtcdPrimaryLease(
        settings(), clock=clock, store=store, background=False, sleep=clock.advance
    )
    with pytest.raises(LeaseUnavailable, match="still kept alive"):
        lease.acquire("u00", "production", 1)


def test_release_revokes_and_invalidates(lease: EtcdPrimaryLease, store: FakeStore) -> None:
    lease.acquire("u00", "production", 1)
    lease_id = lease.lease_id
    lease.release()
    lease.release()
    assert not lease.valid()
    assert store.revoked == [lease_id]
    assert KEY not in store.keys


def test_an_unreachable_store_means_the_lease_is_unavailable(
    lease: EtcdPrimaryLease, store: FakeStore
) -> None:
    store.down = True
    with pytest.raises(LeaseUnavailable, match="etcd unreachable"):
        lease.acquire("u00", "production", 1)


# -- real etcd ---------------------------------------------------------------------------


class RecordingClient(EtcdClient):
    """The real client, remembering when the last successful keepalive was sent."""

    last_good_send = 0.0

    def keepalive(self, lease_id: int) -> int:
        sent = time.monotonic()
        ttl = super().keepalive(lease_id)
        if ttl > 0:
            self.last_good_send = sent
        return ttl


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    supervisor = Supervisor(tmp_path / "state")
    cluster = EtcdCluster(supervisor, plan_members(["production", "same-city", "remote-dr"]))
    try:
        cluster.start(timeout=60)
        yield cluster
    finally:
        supervisor.stop_all(grace=1.5)


def key_on_member(url: str) -> bool:
    """Serializable read: what this member alone believes, even without a quorum."""
    body = {"key": base64.b64encode(KEY.encode()).decode(), "serializable": True}
    return "kvs" in httpx.post(f"{url}/v3/kv/range", json=body, timeout=2).json()


@pytest.mark.integration
def test_losing_the_etcd_quorum_fences_the_primary_before_its_key_expires(
    etcd: EtcdCluster,
) -> None:
    urls = etcd.client_urls
    endpoints = tuple(urls.values())
    client = RecordingClient(endpoints, timeout=0.5)
    lease = EtcdPrimaryLease(settings(etcd_endpoints=endpoints), store=client)
    lease.acquire("u00", "production", 1)
    try:
        time.sleep(1.5)
        assert lease.valid() and client.last_good_send > 0
        etcd.stop_member("same-city")
        etcd.stop_member("remote-dr")
        give_up = time.monotonic() + 30
        while lease.valid():
            assert time.monotonic() < give_up, "the lease never fenced"
            time.sleep(0.01)
        fenced_at = time.monotonic()
        assert fenced_at < client.last_good_send + LEASE_TTL  # before etcd could expire the key
        assert key_on_member(urls["production"])  # the key still exists on etcd's side
        etcd.start_member("same-city")
        while key_on_member(urls["production"]):
            assert time.monotonic() < give_up + 30, "the key never expired"
            time.sleep(0.1)
        expired_at = time.monotonic()
        assert fenced_at < expired_at
        assert not lease.valid()
    finally:
        lease.release()
