"""The writer's commit wait on an event loop (``Replicator.wait_durable_async``): it
answers as the thread wait does, and a standby's acknowledgement from a link's thread
wakes it. The links are not started; the test plays their part."""

from __future__ import annotations

import asyncio
import threading

from app.replication import LinkConfig, Replicator


def replicator(acks_needed: int = 1) -> Replicator:
    links = [
        LinkConfig(site, f"http://{site}", lambda: {}, 3, "production", 64, 1.0, 1.0)
        for site in ("same-city", "remote-dr")
    ]
    return Replicator(links, last_lsn=0, acks_needed=acks_needed, epoch=1)


def acknowledge_later(rep: Replicator, site: str, lsn: int, after: float) -> threading.Thread:
    """A link's thread: the standby at ``site`` applied ``lsn`` ``after`` seconds from now."""

    def apply() -> None:
        threading.Event().wait(after)
        link = rep._links[site]
        link.applied_lsn, link.healthy = lsn, True
        rep.progress()

    thread = threading.Thread(target=apply)
    thread.start()
    return thread


def test_an_acknowledgement_from_a_link_thread_wakes_the_waiting_task() -> None:
    rep = replicator()
    shipper = acknowledge_later(rep, "same-city", 7, after=0.05)
    assert asyncio.run(rep.wait_durable_async(7, timeout=30.0)) is None
    shipper.join()


def test_one_acknowledgement_is_not_enough_when_the_rule_needs_both_standbys() -> None:
    rep = replicator(acks_needed=2)
    acknowledge_later(rep, "same-city", 7, after=0.0).join()
    failure = asyncio.run(rep.wait_durable_async(7, timeout=0.2))
    assert failure == "2 of 2 standbys did not confirm within 0.2 s"
    acknowledge_later(rep, "remote-dr", 7, after=0.0).join()
    assert asyncio.run(rep.wait_durable_async(7, timeout=0.2)) is None


def test_an_earlier_lsn_does_not_satisfy_a_later_write() -> None:
    rep = replicator()
    shipper = acknowledge_later(rep, "same-city", 6, after=0.05)
    assert asyncio.run(rep.wait_durable_async(7, timeout=0.3)) is not None
    shipper.join()


def test_links_known_down_fail_the_wait_at_once_with_their_reason() -> None:
    rep = replicator()
    for link in rep._links.values():
        link.healthy, link.last_error = False, "connection refused"

    async def wait() -> str | None:
        return await rep.wait_durable_async(7, timeout=30.0)

    failure = asyncio.run(asyncio.wait_for(wait(), 5.0))
    assert failure is not None and "2 of 2 standbys unreachable" in failure


def test_stopping_the_replicator_fails_a_waiting_task_and_leaves_no_waiter() -> None:
    rep = replicator()

    async def wait_then_stop() -> str | None:
        waiting = asyncio.create_task(rep.wait_durable_async(7, timeout=30.0))
        await asyncio.sleep(0.05)
        threading.Thread(target=rep.stop, kwargs={"wait": False}).start()
        return await asyncio.wait_for(waiting, 5.0)

    failure = asyncio.run(wait_then_stop())
    assert failure == "replication stopped: this instance is no longer the primary"
    assert rep._waiting == []


def test_the_thread_wait_gives_the_same_verdicts() -> None:
    rep = replicator()
    assert rep.wait_durable(7, timeout=0.1) == "1 of 2 standbys did not confirm within 0.1 s"
    acknowledge_later(rep, "remote-dr", 7, after=0.0).join()
    assert rep.wait_durable(7, timeout=0.1) is None


def test_an_acknowledgement_settles_the_writes_it_covers_and_leaves_later_ones_waiting() -> None:
    rep = replicator()

    async def three_writers() -> tuple[list[str | None], list[int]]:
        waits = [
            asyncio.create_task(rep.wait_durable_async(lsn, timeout=30.0)) for lsn in (5, 6, 9)
        ]
        await asyncio.sleep(0.05)
        acknowledge_later(rep, "same-city", 7, after=0.0).join()
        settled = await asyncio.wait_for(asyncio.gather(*waits[:2]), 5.0)
        still = [waiter.lsn for waiter in rep._waiting]
        waits[2].cancel()
        return settled, still

    settled, still = asyncio.run(three_writers())
    assert settled == [None, None]
    assert still == [9]
    assert rep._waiting == []  # the cancelled writer left no waiter behind
