"""``watertight status``: what runs, where each unit's primary is, and replication lag.

Reads the platform state file, the process table, the routes in etcd, each unit
instance's ``/v1/unit`` and the controllers' ``/v1/status`` (leader, site verdicts per
observer, pending approvals, standing trend warnings — from the leader when it
answers). Every probe is short and failures are shown, not raised: status must work
best exactly when things are broken.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from failover.dcs import DcsError, EtcdDcs, RouteStore
from failover.tls import client_verify
from infra.local.etcd_leader import leader_site
from infra.local.platform import LocalPlatform

PROBE_TIMEOUT = httpx.Timeout(0.5)


def collect_status(platform: LocalPlatform) -> dict[str, Any]:
    """A JSON-ready picture of the platform. Raises PlatformError if nothing runs."""
    state = platform.state()
    alive = platform.supervisor.pids()
    routes: dict[str, Any] = {}
    route_error = None
    dcs = EtcdDcs(list(state.etcd_client_urls.values()), timeout=1.0)
    try:
        routes = {
            unit: {"site": r.site, "epoch": r.epoch}
            for unit, r in RouteStore(dcs, state.topology_name).all_routes().items()
        }
    except DcsError as exc:
        route_error = str(exc)
    finally:
        dcs.close()
    processes = {
        name: {"site": rec.site, "kind": rec.kind, "alive": name in alive, "pid": alive.get(name)}
        for name, rec in sorted(state.processes.items())
    }
    instances = _instances(state.processes, alive)
    control = controller_status(state.controller_urls)
    return {
        "leader": control.get("leader"),
        "etcd_leader": leader_site(state.etcd_client_urls, timeout=0.5),
        "controller": control,
        "site_verdicts": control.get("sites", {}),
        "approvals": control.get("approvals", []),
        "trend_warnings": control.get("trend_warnings", []),
        "state_dir": state.state_dir,
        "router_url": state.router_url,
        "controller_urls": state.controller_urls,
        "console_url": console_url_of(state.controller_urls, prefer=control.get("leader_url")),
        "sites": {
            site: {
                "processes": sum(1 for p in processes.values() if p["site"] == site),
                "alive": sum(1 for p in processes.values() if p["site"] == site and p["alive"]),
            }
            for site in state.sites
        },
        "routes": routes,
        "routes_error": route_error,
        "units": instances,
        "processes": processes,
    }


def controller_status(urls: list[str]) -> dict[str, Any]:
    """The leader's ``/v1/status`` if it answers, else any controller's ({} if none)."""
    answers: list[dict[str, Any]] = []
    with httpx.Client(timeout=PROBE_TIMEOUT, verify=client_verify()) as client:
        for url in urls:
            try:
                answer = client.get(f"{url}/v1/status").json()
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(answer, dict):
                if answer.get("is_leader"):
                    return answer
                answers.append(answer)
    return answers[0] if answers else {}


def console_url_of(urls: list[str], prefer: str | None = None) -> str | None:
    """``/console`` of the first controller that answers ``/healthz``: ``prefer`` (e.g.
    the leader's URL) if given and among ``urls``, then ``urls`` in order (the platform
    lists them in the topology's site order); None when none answers."""
    ordered = sorted(urls, key=lambda url: url != prefer)
    with httpx.Client(timeout=PROBE_TIMEOUT, verify=client_verify()) as client:
        for url in ordered:
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return f"{url}/console"
            except httpx.HTTPError:
                continue
    return None


def _instances(records: dict[str, Any], alive: dict[str, int]) -> dict[str, dict[str, Any]]:
    units: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=PROBE_TIMEOUT, verify=client_verify()) as client:
        for name, record in sorted(records.items()):
            if record.kind != "unit" or record.unit is None:
                continue
            info: dict[str, Any] = {"alive": name in alive}
            if name in alive:
                url = (record.ready_url or "").removesuffix("/readyz") + "/v1/unit"
                try:
                    info.update(client.get(url).json())
                except (httpx.HTTPError, ValueError) as exc:
                    info["error"] = type(exc).__name__
            units.setdefault(record.unit, {})[record.site] = info
    return units


def render_status(report: dict[str, Any], console: Console) -> None:
    """Print the status as tables."""
    console.print(
        f"router {report['router_url']}   state {report['state_dir']}   "
        f"console {report.get('console_url') or 'none'}"
    )
    control = report.get("controller") or {}
    console.print(
        f"leader {report.get('leader') or 'none'}   "
        f"etcd leader {report.get('etcd_leader') or 'none'}   "
        f"{'[yellow]frozen[/yellow]   ' if control.get('frozen') else ''}"
        f"{control.get('summary', 'no controller answers')}"
    )
    sites = Table(title="sites")
    for column in ("site", "processes alive", "verdict", "failed rounds per observer"):
        sites.add_column(column)
    verdicts = report.get("site_verdicts", {})
    for site, info in report["sites"].items():
        verdict = verdicts.get(site, {})
        seen = ", ".join(f"{o}: {n}" for o, n in sorted(verdict.get("observers", {}).items()))
        sites.add_row(site, f"{info['alive']}/{info['processes']}", verdict.get("state", "?"), seen)
    console.print(sites)
    for approval in report.get("approvals", []):
        console.print(
            f"[yellow]pending approval {approval['id']}[/yellow]: promote {approval['unit']} in "
            f"{approval['to_site']} (loss of at least {approval['estimated_loss']} entries) — "
            f"`watertight approve {approval['id']}`"
        )
    for warning in report.get("trend_warnings", []):
        # A warning, never an action: the controller moves nothing on it.
        console.print(
            f"[yellow]trend warning {warning['kind']}[/yellow]: {warning['reason']} "
            f"(for {warning['for_seconds']:.0f} s; nothing moves on it)"
        )
    if report["routes_error"]:
        console.print(f"[red]routes unavailable:[/red] {report['routes_error']}")
    units = Table(title="units")
    for column in ("unit", "primary", "epoch", "instances (role@epoch lsn)"):
        units.add_column(column)
    for unit, by_site in sorted(report["units"].items()):
        route = report["routes"].get(unit, {})
        cells = []
        for site, info in sorted(by_site.items()):
            if not info.get("alive"):
                cells.append(f"{site}: down")
            elif "error" in info:
                cells.append(f"{site}: {info['error']}")
            else:
                cells.append(
                    f"{site}: {info.get('role')}@{info.get('epoch')} {info.get('last_lsn', '?')}"
                )
        units.add_row(
            unit, str(route.get("site", "?")), str(route.get("epoch", "?")), "; ".join(cells)
        )
    console.print(units)
