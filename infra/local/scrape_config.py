"""A Prometheus configuration that scrapes every component of a running local platform.

Built from the platform's record (``platform.json``), so it names exactly what ``up``
started: every unit instance, controller, observer, the router, the link proxy and the
etcd members. Every target carries ``process`` (its name in the record); unit instances
also carry ``unit`` and ``site``, because their own series do not say which they are.
Controllers and observers do not get ``site``: their series carry ``site`` and ``unit``
labels of their own (the site judged, not the one judging), which a target label of the
same name would rename to ``exported_site``. Job names all start with ``watertight-``,
which the ``WatertightComponentDown`` alert selects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from infra.local.state import PlatformState, ProcessRecord

#: The job of each process kind; its target port is in the named environment variable.
JOBS = {
    "unit": ("watertight-unit", "WATERTIGHT_PORT"),
    "controller": ("watertight-controller", "WATERTIGHT_PORT"),
    "observer": ("watertight-observer", "WATERTIGHT_METRICS_PORT"),
    "router": ("watertight-router", "WATERTIGHT_PORT"),
}


def scrape_config(
    state: PlatformState,
    rule_files: Sequence[str] = (),
    interval_seconds: float = 5.0,
) -> dict[str, Any]:
    """The whole ``prometheus.yml`` for ``state`` (a mapping to dump as YAML).

    ``interval_seconds`` is both the scrape and the rule-evaluation interval. A process
    record without its port (an observer started before observers served metrics) is
    left out rather than guessed.
    """
    groups: dict[str, list[dict[str, Any]]] = {job: [] for job, _ in JOBS.values()}
    for record in sorted(state.processes.values(), key=lambda r: r.name):
        target = _target(record)
        if target is not None:
            groups[JOBS[record.kind][0]].append(target)
    groups["watertight-etcd"] = [
        {"targets": [_host_port(url)], "labels": {"process": f"etcd-{site}"}}
        for site, url in sorted(state.etcd_client_urls.items())
    ]
    groups["watertight-linkproxy"] = [
        {"targets": [_host_port(state.proxy_control_url)], "labels": {"process": "linkproxy"}}
    ]
    interval = f"{interval_seconds:g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": list(rule_files),
        "scrape_configs": [
            {"job_name": job, "static_configs": targets}
            for job, targets in groups.items()
            if targets
        ],
    }


def _target(record: ProcessRecord) -> dict[str, Any] | None:
    if record.kind not in JOBS:
        return None
    port = record.env.get(JOBS[record.kind][1])
    if port is None:
        return None
    labels = {"process": record.name}
    if record.kind == "unit" and record.unit is not None and record.site is not None:
        labels |= {"unit": record.unit, "site": record.site}
    host = record.env.get("WATERTIGHT_HOST", "127.0.0.1")
    return {"targets": [f"{host}:{port}"], "labels": labels}


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"
