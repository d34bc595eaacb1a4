"""One round of probes over HTTP, with connect *and* read timeouts.

A SIGSTOPped process accepts TCP (the kernel completes the handshake) and never answers,
so only a read timeout notices it. The read budget is longer than the connect timeout on
purpose: a *slow* link (``slow same-city --ms 300`` delays each direction, so a round trip
takes ≥ 600 ms) still answers inside a probe interval and must not look dead, while a hung
one never answers at all. Connection errors are retried once inside the round
(:func:`failover.retry.probe_round_retry`); timeouts never are.

A site's etcd member is asked for ``/version``, not ``/health``: the question is whether
the site's processes answer, and etcd 3.5.1 answers ``/health`` with a linearizable read
(a ReadIndex round across the members, six a second from three observers) that a member
cut off from its quorum cannot finish within a probe's read budget.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from failover.keepalive_http import KeepAliveClient, NoAnswerError, RefusedError
from failover.retry import Sleep, probe_round_retry
from failover.tls import client_context
from failover.topology import Timing

#: What a site's etcd member is asked (see the module docstring).
SITE_PROBE_PATH = "/version"

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


class Prober:
    """Probes unit instances and sites' etcd members in parallel; never raises."""

    def __init__(self, timing: Timing, *, sleep: Sleep, workers: int = 16) -> None:
        self._client = KeepAliveClient(*probe_timeouts(timing), tls=client_context())
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self._sleep = sleep

    def round(
        self,
        instances: Mapping[tuple[str, str], str],
        site_urls: Mapping[str, str],
    ) -> RoundResult:
        """Probe ``instances`` (``(unit, site) -> base URL``) and ``site_urls`` (etcd
        member base URL per site). A site counts as reached when its etcd member or any
        of its unit instances answered: one crashed process is not a lost site."""
        unit_futures = {
            key: self._pool.submit(self._get_json, f"{url}/v1/unit")
            for key, url in instances.items()
        }
        site_futures = {
            site: self._pool.submit(self._get_json, f"{url}{SITE_PROBE_PATH}")
            for site, url in site_urls.items()
        }
        probes = {
            key: InstanceProbe(key[0], key[1], future.result())
            for key, future in unit_futures.items()
        }
        sites = {site: future.result() is not None for site, future in site_futures.items()}
        for (_, site), probe in probes.items():
            if site in sites and probe.reached:
                sites[site] = True
        return RoundResult(probes, sites)

    def _get_json(self, url: str) -> Mapping[str, Any] | None:
        """The JSON body of any HTTP answer (a 503 still proves the peer is alive)."""
        try:
            for attempt in probe_round_retry(sleep=self._sleep, retry_on=(RefusedError,)):
                with attempt:
                    _status, answer = self._client.get(url)
        except NoAnswerError:
            return None
        try:
            body = json.loads(answer)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
