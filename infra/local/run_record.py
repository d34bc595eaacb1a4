"""What an earlier run left in a state directory, and which ports the next ``up`` uses.

A state directory holds one platform. ``down`` stops its processes and keeps the rest:
its record (``platform.json``, marked stopped), the etcd data (routes, epochs, what each
unit acknowledged), every unit database (acknowledged card transactions) and the
controllers' records. The next ``up`` in that directory **restarts that platform**: the
same data on the same ports (docs/architecture.md, "Restarting: down, then up"):

- a record, stopped or left by processes that died → restart it. Every port it names
  must be free again, else ``up`` refuses before starting anything and names the port;
- data without a record (deleted by hand, or by an older ``down``) → refuse: it cannot be
  restarted, and ``up`` never discards acknowledged transactions on its own. Moving the
  directory aside, or deleting it, is the operator's explicit decision;
- nothing → a first start on fresh ports. A first start that fails removes the data it
  had begun to write (no run was ever recorded, no transaction was ever acknowledged to
  anyone), so the next ``up`` is a first start again.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from failover.topology import Topology
from infra.local.etcd_cluster import EtcdMember
from infra.local.ports import LOOPBACK, free_ports, port_is_free
from infra.local.state import STATE_FILE, PlatformError, PlatformState, ProcessRecord

DATA_DIRS = ("etcd", "data", "controller")
"""Directories holding a run's data: etcd members, unit databases, controller records."""
FIRST_START_FILES = (STATE_FILE, "router-addresses.json")


@dataclass(frozen=True)
class PortPlan:
    """The loopback ports of one platform's own listeners (the link proxy's are the
    kernel's choice, new on every run, and handed to the others at start)."""

    etcd: dict[str, tuple[int, int]]
    """site → (client port, peer port)."""
    units: dict[tuple[str, str], int]
    """(unit, site) → port."""
    controllers: dict[str, int]
    router: int
    observers: dict[str, int]
    """site → the port its observer serves ``/metrics`` on."""

    def members(self, sites: list[str]) -> list[EtcdMember]:
        return [EtcdMember(site, *self.etcd[site]) for site in sites]

    def labelled(self) -> list[tuple[int, str]]:
        """Every port with what listens on it, for messages."""
        out = [(self.router, "the router")]
        for site, (client, peer) in self.etcd.items():
            out += [(client, f"etcd-{site} (clients)"), (peer, f"etcd-{site} (peers)")]
        out += [(port, f"unit {u} in {s}") for (u, s), port in self.units.items()]
        out += [(port, f"controller-{site}") for site, port in self.controllers.items()]
        out += [(port, f"observer-{site} (metrics)") for site, port in self.observers.items()]
        return out


def fresh_plan(topology: Topology, router_port: int = 0) -> PortPlan:
    """Free ports for a first start; ``router_port`` if given (the caller checked it is
    free). One batch, so none is handed out twice (infra/local/ports.py): a port picked
    while a unit had not bound its own yet once went to the router too (CI: the router
    died and u02 answered the router's /readyz)."""
    sites = list(topology.site_names)
    slots = [(u, s) for u in topology.units for s in sites]
    count = 2 * len(sites) + len(slots) + 2 * len(sites) + 1
    ports = iter(free_ports(count, LOOPBACK, avoid=frozenset({router_port})))
    etcd = {site: (next(ports), next(ports)) for site in sites}
    units = {slot: next(ports) for slot in slots}
    controllers = {site: next(ports) for site in sites}
    router = next(ports)
    observers = {site: next(ports) for site in sites}
    return PortPlan(etcd, units, controllers, router_port or router, observers)


def recorded_plan(
    record: PlatformState, topology: Topology, topology_file: Path, router_port: int = 0
) -> PortPlan:
    """The ports ``record`` ran on (``router_port``, if given, replaces the router's).

    Raises :class:`PlatformError` if the record cannot be restarted as it is: another
    topology, a declared disaster whose lost members were never taken back, or a port
    now taken by someone else (all named, so the operator knows what to free)."""
    _refuse_other_shape(record, topology, topology_file)
    processes = record.processes
    try:
        plan = PortPlan(
            etcd={s: _etcd_ports(processes[f"etcd-{s}"]) for s in topology.site_names},
            units={
                (u, s): _env_port(processes[f"unit-{u}-{s}"])
                for u in topology.units
                for s in topology.site_names
            },
            controllers={s: _env_port(processes[f"controller-{s}"]) for s in topology.site_names},
            router=router_port or _env_port(processes["router"]),
            observers={},
        )
        others = frozenset(port for port, _ in plan.labelled())
        plan = replace(plan, observers=_observer_ports(processes, topology, others))
        recorded_peer_urls(record)
    except (KeyError, ValueError) as exc:
        raise PlatformError(
            f"the platform recorded in {record.state_dir} lacks {exc} for topology "
            f"{topology.name}: it was not started by a complete `up`; {_ASIDE}"
        ) from exc
    taken = [f"{port} ({what})" for port, what in plan.labelled() if not port_is_free(port)]
    if taken:
        raise PlatformError(
            f"cannot restart the platform recorded in {record.state_dir}: its ports "
            f"{', '.join(taken)} are in use by another process; stop that process and run "
            f"`watertight up` again (or {_ASIDE_SHORT})"
        )
    return plan


_ASIDE_SHORT = "move the directory aside to start a new platform elsewhere"
_ASIDE = (
    "nothing was started. To keep its data, move the directory aside; to discard it, "
    "delete the directory; then `watertight up` starts a new platform"
)


def _refuse_other_shape(record: PlatformState, topology: Topology, topology_file: Path) -> None:
    if str(topology_file.resolve()) != record.topology_file:
        raise PlatformError(
            f"the platform recorded in {record.state_dir} runs topology "
            f"{record.topology_file}, not {topology_file}: restart it with "
            f"`--topology {record.topology_file}`, or use another --state-dir"
        )
    if record.etcd_removed:
        raise PlatformError(
            f"the platform recorded in {record.state_dir} declared a disaster and never took "
            f"back the etcd members of {', '.join(record.etcd_removed)} (their old data must "
            f"never start again), so it cannot be restarted as recorded; {_ASIDE}"
        )


def _etcd_ports(record: ProcessRecord) -> tuple[int, int]:
    """(client port, peer port) a member listened on, from its recorded command line."""
    client = _flag_value(record, "--listen-client-urls")
    peer = _flag_value(record, "--listen-peer-urls")
    return int(client.rsplit(":", 1)[1]), int(peer.rsplit(":", 1)[1])


def _env_port(record: ProcessRecord) -> int:
    return int(record.env["WATERTIGHT_PORT"])


def _observer_ports(
    processes: dict[str, ProcessRecord], topology: Topology, others: frozenset[int]
) -> dict[str, int]:
    """The recorded metrics ports of the observers; free ones, none of ``others``, for a
    record written before observers served metrics (nothing else depends on them)."""
    recorded = {
        site: int(port)
        for site in topology.site_names
        if (port := processes[f"observer-{site}"].env.get("WATERTIGHT_METRICS_PORT"))
    }
    missing = [site for site in topology.site_names if site not in recorded]
    taken = others | frozenset(recorded.values())
    fresh = free_ports(len(missing), LOOPBACK, avoid=taken)
    return {**recorded, **dict(zip(missing, fresh, strict=True))}


def previous_run(state_dir: Path) -> PlatformState | None:
    """The platform recorded in ``state_dir``, None if there is none and no data either.

    Raises :class:`PlatformError` when there is data but no record (module docstring)."""
    if (state_dir / STATE_FILE).exists():
        return PlatformState.load(state_dir)
    leftovers = [name for name in DATA_DIRS if _non_empty(state_dir / name)]
    if leftovers:
        raise PlatformError(
            f"{state_dir} holds the data of an earlier platform ({', '.join(leftovers)}) "
            f"but no record of it ({STATE_FILE}: removed by hand, or by the `down` of an "
            f"older watertight), so it cannot be restarted, and `up` does not discard "
            f"acknowledged transactions on its own; {_ASIDE}"
        )
    return None


def _non_empty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def recorded_peer_urls(record: PlatformState) -> dict[str, list[str]]:
    """Site → the peer URLs the recorded etcd membership may name for its member."""
    urls = {site: list(found) for site, found in record.etcd_peer_urls.items() if found}
    for site in record.sites:
        if site not in urls:  # a record written before etcd_peer_urls existed
            member = record.processes[f"etcd-{site}"]
            urls[site] = [_flag_value(member, "--initial-advertise-peer-urls")]
    return urls


def _flag_value(record: ProcessRecord, flag: str) -> str:
    for arg in record.argv:
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    raise KeyError(f"{flag} of {record.name}")


def mark_stopped(state_dir: Path) -> PlatformState | None:
    """Mark the record of ``state_dir`` stopped now (if not already); return it, or None
    when there is no readable record."""
    try:
        record = PlatformState.load(state_dir)
    except PlatformError:
        return None
    if record.stopped_at is None:
        record.stopped_at = time.time()
        record.save(state_dir)
    return record


def discard_first_start(state_dir: Path) -> None:
    """Remove what a failed first start wrote besides logs (module docstring). Only for a
    first start: :func:`previous_run` found neither a record nor data before it."""
    for name in DATA_DIRS:
        shutil.rmtree(state_dir / name, ignore_errors=True)
    for name in FIRST_START_FILES:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def restart_notice(record: PlatformState, router_url: str) -> str:
    """The sentence ``up`` says before restarting ``record`` (router at ``router_url``)."""
    if record.stopped_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.stopped_at))
        how = f"stopped by `down` at {when}"
    else:
        how = "its processes had died without `down`"
    return (
        f"restarting the platform recorded in {record.state_dir} ({how}): same data, same "
        f"ports; router {router_url}"
    )
