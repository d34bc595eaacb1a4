"""The quiet uvicorn server: asleep between Date-header refreshes, yet stopped at once
when told to, and refusing to pretend it started when it could not."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys

import pytest
from uvicorn.config import Config

from failover.http_server import STARTUP_FAILURE, QuietServer

#: Far longer than any test may wait: a stop that waited for the refresh would hang.
NEVER = 3600.0


async def app(scope: object, receive: object, send: object) -> None:
    """Serves nothing; the server's main loop is what is tested."""


def test_a_stop_wakes_the_main_loop_without_waiting_for_the_next_refresh() -> None:
    server = QuietServer(Config(app), date_refresh_seconds=NEVER)

    async def scenario() -> None:
        looping = asyncio.create_task(server.main_loop())
        await asyncio.sleep(0.05)  # the loop is now waiting
        assert not looping.done()
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(looping, timeout=60)

    asyncio.run(scenario())
    assert server.should_exit


def test_between_refreshes_the_main_loop_does_not_wake() -> None:
    ticks: list[int] = []

    class Counting(QuietServer):
        async def on_tick(self, counter: int) -> bool:
            ticks.append(counter)
            return await super().on_tick(counter)

    server = Counting(Config(app), date_refresh_seconds=NEVER)
    server.config.load()

    async def scenario() -> None:
        looping = asyncio.create_task(server.main_loop())
        await asyncio.sleep(0.5)  # uvicorn's own loop would have ticked five times
        assert ticks == [0]
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(looping, timeout=60)

    asyncio.run(scenario())
    assert ticks == [0, 0]


def test_a_server_told_to_stop_before_its_loop_ran_stops_at_once() -> None:
    server = QuietServer(Config(app), date_refresh_seconds=NEVER)
    server.should_exit = True
    asyncio.run(asyncio.wait_for(server.main_loop(), timeout=60))


def test_each_refresh_sets_a_date_header() -> None:
    server = QuietServer(Config(app), date_refresh_seconds=0.01)
    server.config.load()

    async def scenario() -> None:
        looping = asyncio.create_task(server.main_loop())
        await asyncio.sleep(0.05)
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(looping, timeout=60)

    asyncio.run(scenario())
    assert [name for name, _ in server.server_state.default_headers] == [b"date", b"server"]


@pytest.mark.integration
def test_a_server_whose_port_is_taken_exits_with_uvicorns_startup_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = (
            "from failover.http_server import serve\n"
            "async def app(scope, receive, send): pass\n"
            f"serve(app, host='127.0.0.1', port={port}, log_level='critical')\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == STARTUP_FAILURE
