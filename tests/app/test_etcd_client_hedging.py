"""Hedged keepalives: a renewal never waits out a dead member while another answers.

The cause of a near-fence seen at the heal of a city-A partition: behind the cut, the
keepalive asked the blackholed member and waited its full timeout, after its own busy
member had timed out once. These fakes sit at our own port (:class:`Endpoint`).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.etcd_client import SUSPECT_SECONDS, EtcdClient, EtcdStoreError

RELEASE_AFTER = 30.0  # a safety net only: the tests end long before


class Member:
    """An etcd member that answers, fails, or hangs until released."""

    def __init__(self, url: str, behaviour: str = "answer") -> None:
        self.url, self.behaviour = url, behaviour
        self.asked = 0
        self.released = threading.Event()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.asked += 1
        if self.behaviour == "hang":
            self.released.wait(RELEASE_AFTER)
            raise EtcdStoreError(f"{self.url}: Read timed out")
        if self.behaviour == "fail":
            raise EtcdStoreError(f"{self.url}: connection refused")
        return {"result": {"TTL": "4"}, "from": self.url}

    def close(self) -> None:
        self.released.set()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def client(*members: Member, clock: Clock | None = None) -> EtcdClient:
    return EtcdClient([], members=list(members), clock=clock or Clock())


def test_a_keepalive_is_answered_by_the_next_member_while_the_first_two_hang() -> None:
    own, cut, witness = Member("own", "hang"), Member("cut", "hang"), Member("witness")
    etcd = client(own, cut, witness)
    try:
        assert etcd.keepalive(7) == 4
        # Answered while both hanging members were still hanging: nobody waited them out.
        assert not own.released.is_set() and not cut.released.is_set()
        assert (own.asked, cut.asked, witness.asked) == (1, 1, 1)
    finally:
        etcd.close()


def test_the_member_that_answered_is_asked_first_next_time() -> None:
    own, cut, witness = Member("own", "fail"), Member("cut", "fail"), Member("witness")
    etcd = client(own, cut, witness)
    try:
        etcd.keepalive(7)
        etcd.keepalive(7)
        assert (own.asked, cut.asked, witness.asked) == (1, 1, 2)
    finally:
        etcd.close()


def test_a_member_that_failed_is_asked_last_until_its_suspicion_ends() -> None:
    clock = Clock()
    own, other = Member("own", "fail"), Member("other")
    etcd = client(own, other, clock=clock)
    try:
        etcd.keepalive(7)  # own fails, other answers and becomes current
        own.behaviour = "answer"
        assert etcd._order() == [1, 0]  # other first (current), own still suspect
        clock.now += SUSPECT_SECONDS + 0.1
        assert etcd._order() == [1, 0]  # still: other answered last
        other.behaviour = "fail"
        etcd.keepalive(7)
        assert etcd._order() == [0, 1]
    finally:
        etcd.close()


def test_every_member_failing_is_one_error_naming_them_all() -> None:
    etcd = client(Member("a", "fail"), Member("b", "fail"))
    try:
        with pytest.raises(EtcdStoreError, match=r"a: connection refused.*b: connection refused"):
            etcd.keepalive(7)
    finally:
        etcd.close()
