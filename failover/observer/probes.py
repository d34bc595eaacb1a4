"""One round of probes over HTTP, with connect *and* read timeouts.

A SIGSTOPped process accepts TCP (the kernel completes the handshake) and never answers,
so only a read timeout notices it. The read budget is longer than the connect timeout on
purpose: a *slow* link (``slow same-city --ms 300`` delays each direction, so a round trip
takes ≥ 600 ms) still answers inside a probe interval and must not look dead, while a hung
one never answers at all. Connection errors are retried once inside the round
(:func:`failover.retry.probe_round_retry`); timeouts never are.

A round's probes go out all at once from an event loop of the prober's own, over the
asyncio keep-alive client (:mod:`failover.keepalive_asyncio`): under a third of the CPU a
probe took on a pool of threads each holding an ``http.client`` connection
(docs/benchmarks.md, idle cost). The loop runs only while :meth:`Prober.round` does.

A site's etcd member is asked for ``/version``, not ``/health``: the question is whether
the site's processes answer, and etcd 3.5.1 answers ``/health`` with a linearizable read
(a ReadIndex round across the members, six a second from three observers) that a member
cut off from its quorum cannot finish within a probe's read budget.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from failover.keepalive_asyncio import AsyncKeepAliveClient, Timeouts, UpstreamError
from failover.retry import AsyncSleep, probe_round_retry
from failover.topology import Timing

#: What a site's etcd member is asked (see the module docstring).
SITE_PROBE_PATH = "/version"

ACCEPT_JSON = ((b"accept", b"application/json"),)

#: Fraction of the probe interval a probe may wait for its answer (see module docstring).
READ_BUDGET_OF_INTERVAL = 0.9


@dataclass(frozen=True, slots=True)
class InstanceProbe:
    """What ``GET /v1/unit`` said (``body`` None: no answer within the timeouts)."""

    unit: str
    site: str
    body: Mapping[str, Any] | None

    @property
    def reached(self) -> bool:
        return self.body is not None


@dataclass(frozen=True, slots=True)
class RoundResult:
    """Everything one round saw: per instance and per site (any answer from the site)."""

    instances: Mapping[tuple[str, str], InstanceProbe]
    sites: Mapping[str, bool]


def probe_timeouts(timing: Timing) -> tuple[float, float]:
    """``(connect, read)``: connect within the probe timeout; read within most of the
    probe interval."""
    read = max(
        timing.probe_timeout_seconds, READ_BUDGET_OF_INTERVAL * timing.probe_interval_seconds
    )
    return timing.probe_timeout_seconds, read


class _RefusedError(Exception):
    """Nobody accepted the connection: a fast failure, worth one more try."""


class Prober:
    """Probes unit instances and sites' etcd members all at once; never raises. One
    round at a time (the observer's loop), from any one thread."""

    def __init__(self, timing: Timing, *, sleep: AsyncSleep = asyncio.sleep) -> None:
        connect, read = probe_timeouts(timing)
        self._client = AsyncKeepAliveClient(Timeouts(connect, read, read, read))
        self._loop = asyncio.new_event_loop()
        self._sleep = sleep

    def round(
        self,
        instances: Mapping[tuple[str, str], str],
        site_urls: Mapping[str, str],
    ) -> RoundResult:
        """Probe ``instances`` (``(unit, site) -> base URL``) and ``site_urls`` (etcd
        member base URL per site). A site counts as reached when its etcd member or any
        of its unit instances answered: one crashed process is not a lost site."""
        return self._loop.run_until_complete(self._round(instances, site_urls))

    async def _round(
        self,
        instances: Mapping[tuple[str, str], str],
        site_urls: Mapping[str, str],
    ) -> RoundResult:
        bodies = await asyncio.gather(
            *(self._get_json(f"{url}/v1/unit") for url in instances.values()),
            *(self._get_json(f"{url}{SITE_PROBE_PATH}") for url in site_urls.values()),
        )
        probes = {
            key: InstanceProbe(key[0], key[1], body)
            for key, body in zip(instances, bodies, strict=False)
        }
        site_bodies = bodies[len(instances) :]
        sites = {site: body is not None for site, body in zip(site_urls, site_bodies, strict=True)}
        for (_, site), probe in probes.items():
            if site in sites and probe.reached:
                sites[site] = True
        return RoundResult(probes, sites)

    async def _get_json(self, url: str) -> Mapping[str, Any] | None:
        """The JSON body of any HTTP answer (a 503 still proves the peer is alive)."""
        try:
            async for attempt in probe_round_retry(sleep=self._sleep, retry_on=(_RefusedError,)):
                with attempt:
                    answer = await self._get(url)
        except (_RefusedError, UpstreamError):
            return None
        try:
            body = json.loads(answer)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _get(self, url: str) -> bytes:
        try:
            answer = await self._client.request("GET", url, content=b"", headers=ACCEPT_JSON)
        except UpstreamError as exc:
            if exc.refused:
                raise _RefusedError(str(exc)) from exc
            raise
        return answer.body

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()
