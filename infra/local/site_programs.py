"""What each of our programs is given on the local platform: its environment, argv and
readiness URL (docs/design.md §6).

Every program sees the world as its site does: other sites' unit instances and etcd
members through the (site → other) listeners of the link proxy, the router through the
``edge`` site's. These functions only build :class:`ProcessRecord` s and the address files
the records name; :class:`infra.local.platform.LocalPlatform` starts them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from failover.tls import ENV as TLS_ENV
from failover.tls import scheme
from infra.local.certificates import EDGE_IDENTITY, tls_env
from infra.local.etcd_cluster import EtcdCluster, client_endpoints, member_client_urls
from infra.local.linkproxy_client import LinkProxyClient
from infra.local.ports import LOOPBACK
from infra.local.run_record import PortPlan
from infra.local.state import EDGE, PlatformState, ProcessRecord


def _scheme(state: PlatformState) -> str:
    return scheme(bool(state.tls_dir))


def _instance_url(
    state: PlatformState, proxy: LinkProxyClient, seen_from: str, site: str, port: int
) -> str:
    """A unit instance of ``site`` listening on ``port``, as ``seen_from`` (a site or the
    edge) reaches it: through the proxy's (seen_from, site) listener."""
    host, via = proxy.listener_for(seen_from, site, LOOPBACK, port)
    return f"{_scheme(state)}://{host}:{via}"


def unit_peers(
    state: PlatformState, proxy: LinkProxyClient, plan: PortPlan, unit: str, site: str
) -> dict[str, str]:
    """The unit's instances in the other sites, as ``site`` reaches them."""
    return {
        other: _instance_url(state, proxy, site, other, plan.units[unit, other])
        for other in state.sites
        if other != site
    }


def unit_record(
    state: PlatformState, unit: str, site: str, port: int, role: str,
    peers: dict[str, str], etcd: list[str],
) -> ProcessRecord:  # fmt: skip
    """One unit instance (``python -m app``), its SQLite file under ``data/SITE``."""
    data_dir = Path(state.state_dir) / "data" / site
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "WATERTIGHT_UNIT": unit,
        "WATERTIGHT_SITE": site,
        "WATERTIGHT_HOST": LOOPBACK,
        "WATERTIGHT_PORT": str(port),
        "WATERTIGHT_DATA_DIR": str(data_dir),
        "WATERTIGHT_TOPOLOGY": state.topology_file,
        "WATERTIGHT_CREDENTIALS_DIR": state.credentials_dir,
        "WATERTIGHT_ROLE": role,
        "WATERTIGHT_EPOCH": "1",
        "WATERTIGHT_PEERS": json.dumps(peers, sort_keys=True),
        "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(etcd),
        **tls_env(state.tls_dir, site),
    }
    return ProcessRecord(
        name=f"unit-{unit}-{site}",
        argv=[sys.executable, "-m", "app"],
        env=env,
        site=site,
        ready_url=f"{_scheme(state)}://{LOOPBACK}:{port}/readyz",
        kind="unit",
        unit=unit,
    )


def _unit_urls(
    state: PlatformState, proxy: LinkProxyClient, seen_from: str
) -> dict[str, dict[str, str]]:
    """Every unit instance of ``state``, as ``seen_from`` (a site or the edge) reaches it."""
    units: dict[str, dict[str, str]] = {}
    for record in state.processes.values():
        if record.kind == "unit" and record.unit and record.site:
            port = int(record.env["WATERTIGHT_PORT"])
            url = _instance_url(state, proxy, seen_from, record.site, port)
            units.setdefault(record.unit, {})[record.site] = url
    return units


def router_record(
    state: PlatformState, cluster: EtcdCluster, proxy: LinkProxyClient, port: int
) -> ProcessRecord:
    """The router at the edge; writes its address map (every unit instance it may forward
    to) and sets ``state.router_url``. Call it once every unit is in ``state``."""
    address_map = Path(state.state_dir) / "router-addresses.json"
    address_map.write_text(
        json.dumps({"units": _unit_urls(state, proxy, EDGE)}, indent=2, sort_keys=True)
    )
    env = {
        "WATERTIGHT_HOST": LOOPBACK,
        "WATERTIGHT_PORT": str(port),
        "WATERTIGHT_TOPOLOGY": state.topology_file,
        "WATERTIGHT_ADDRESS_MAP": str(address_map),
        "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, EDGE)),
        **tls_env(state.tls_dir, EDGE_IDENTITY),
    }
    state.router_url = f"http://{LOOPBACK}:{port}"
    return ProcessRecord(
        name="router",
        argv=[sys.executable, "-m", "failover.router"],
        env=env,
        site=None,
        ready_url=f"{state.router_url}/readyz",
        kind="router",
    )


def control_records(
    state: PlatformState, cluster: EtcdCluster, proxy: LinkProxyClient, plan: PortPlan,
    witness: str,
) -> list[ProcessRecord]:  # fmt: skip
    """A controller and an observer per site, in start order: the witness site's
    controller first, so it is the one that finds the leader lease free
    (``failover.controller.leadership``). Writes each site's address file and sets
    ``state.controller_urls``. Call it once every unit is in ``state``."""
    urls = {site: f"{_scheme(state)}://{LOOPBACK}:{p}" for site, p in plan.controllers.items()}
    directory = Path(state.state_dir) / "controller"
    directory.mkdir(parents=True, exist_ok=True)
    records = []
    for site in sorted(state.sites, key=lambda name: name != witness):
        address_file = directory / f"addresses-{site}.json"
        addresses = {
            "units": _unit_urls(state, proxy, site),
            "etcd": member_client_urls(cluster, proxy, site),
            "controllers": urls,
        }
        address_file.write_text(json.dumps(addresses, indent=2))
        env = {
            "WATERTIGHT_SITE": site,
            "WATERTIGHT_HOST": LOOPBACK,
            "WATERTIGHT_PORT": str(plan.controllers[site]),
            "WATERTIGHT_TOPOLOGY": state.topology_file,
            "WATERTIGHT_CREDENTIALS_DIR": state.credentials_dir,
            "WATERTIGHT_ADDRESSES": str(address_file),
            "WATERTIGHT_STATE_DIR": str(directory),
            "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, site)),
            **tls_env(state.tls_dir, site),
        }
        records.append(
            ProcessRecord(
                name=f"controller-{site}",
                argv=[sys.executable, "-m", "failover.controller"],
                env=env,
                site=site,
                ready_url=f"{urls[site]}/healthz",
                kind="controller",
            )
        )
        records.append(_observer_record(site, env, plan.observers[site]))
    state.controller_urls = [urls[site] for site in state.sites]
    return records


def _observer_record(site: str, controller_env: dict[str, str], metrics_port: int) -> ProcessRecord:
    """The site's observer: its own process, so killing a controller keeps its vote.
    Ready once it serves ``/metrics``, its only HTTP interface."""
    keep = ("WATERTIGHT_SITE", "WATERTIGHT_TOPOLOGY", "WATERTIGHT_ADDRESSES",
            "WATERTIGHT_ETCD_ENDPOINTS", TLS_ENV)  # fmt: skip
    env = {k: v for k, v in controller_env.items() if k in keep}
    env["WATERTIGHT_HOST"] = LOOPBACK
    env["WATERTIGHT_METRICS_PORT"] = str(metrics_port)
    return ProcessRecord(
        name=f"observer-{site}",
        argv=[sys.executable, "-m", "failover.observer"],
        env=env,
        site=site,
        ready_url=f"http://{LOOPBACK}:{metrics_port}/metrics",
        kind="observer",
    )
