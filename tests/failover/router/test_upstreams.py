"""The router's pools to unit instances (failover/router/upstreams.py), on real sockets:
each instance gets its own keep-alive pool, reused across requests, and all are closed
together."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Request
from serving import serving

from failover.router.upstreams import Upstreams


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode(), "key": request.headers["x-key"]}

    return app


def test_each_instance_gets_one_pool_reused_across_requests_and_all_close_together() -> None:
    with serving(echo_app()) as first, serving(echo_app()) as second:

        async def scenario() -> tuple[list[httpx.Response], int, list[bool]]:
            upstreams = Upstreams(httpx.Timeout(5.0))
            answers = [
                await upstreams.request(
                    "POST", f"{url}/echo", content=b"hi", headers=[(b"x-key", b"k")]
                )
                for url in (first, second, first, second)
            ]
            pools = list(upstreams._pools.values())
            await upstreams.aclose()
            return answers, len(pools), [pool.is_closed for pool in pools]

        answers, pools, closed = asyncio.run(scenario())
    assert [a.json() for a in answers] == [{"body": "hi", "key": "k"}] * 4
    assert pools == 2
    assert closed == [True, True]
