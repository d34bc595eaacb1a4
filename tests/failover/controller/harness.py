"""A controller wired to fakes at our own ports: MemoryDcs (etcd), a fake world of unit
instances answering ``/v1/unit`` and ``/admin/role``, and scripted observer rounds."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.traffic import TrafficCounters
from failover.controller.records import RecordStore
from failover.controller.runtime import Runtime
from failover.controller.settings import CONTROLLER_ROLES
from failover.controller.units import RoleChange, RoleRefused
from failover.controller.wiring import assemble
from failover.credentials import Credentials
from failover.dcs import Keys, LeaseNotFound, MemoryDcs, RouteStore
from failover.dcs.codec import canonical_json
from failover.observer.addresses import SiteAddresses
from failover.observer.observer import Observer
from failover.observer.probes import InstanceProbe, RoundResult
from failover.observer.publisher import ReportPublisher
from failover.topology import Topology, default_topology

WALL_OFFSET = 1_800_000_000.0
# Each role its own token, as a deployment has them (failover/credentials.py).
ADMIN_TOKEN = "admin-token-for-the-tests"
OPERATOR_TOKEN = "operator-token-for-the-tests"
APPROVER_TOKENS = {"alice": "alice-approver-token-0001", "bob": "bob-approver-token-00002"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
ALICE = {"Authorization": f"Bearer {APPROVER_TOKENS['alice']}"}
BOB = {"Authorization": f"Bearer {APPROVER_TOKENS['bob']}"}


def write_credentials(directory: Path) -> Path:
    """A controller's credentials directory with the tokens above."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "admin").write_text(f"{ADMIN_TOKEN}\n")
    (directory / "operator").write_text(f"{OPERATOR_TOKEN}\n")
    lines = "".join(f"{name} {token}\n" for name, token in APPROVER_TOKENS.items())
    (directory / "approvers").write_text(lines)
    return directory


def auth_for(path: str) -> dict[str, str]:
    """The credential an endpoint needs: an approver's for approvals, else the operator's."""
    return ALICE if path.startswith("/v1/approvals/") else OPERATOR


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_OFFSET + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Instance:
    role: str
    epoch: int
    last_lsn: int = 0
    last_entry_epoch: int = 0
    applied: dict[str, int] = field(default_factory=dict)


class FakeUnits:
    """Unit instances as the controller sees them; ``down`` sites answer nothing."""

    def __init__(self, topology: Topology, log: list[str]) -> None:
        self.topology, self.log = topology, log
        self.down: set[str] = set()
        self.crashed: set[tuple[str, str]] = set()  # (unit, site): that process alone is dead
        self.on_primary: Callable[[str, str, int], None] = lambda unit, site, epoch: None
        self.on_release: Callable[[str, str], None] = lambda unit, site: None
        self.instances: dict[tuple[str, str], Instance] = {}
        self.traffic: dict[tuple[str, str], TrafficCounters] = {}
        """The business traffic an instance reports in ``/v1/unit``, where a test sets it."""
        for unit in topology.units:
            placement = topology.placement(unit)
            for site in topology.site_names:
                primary = site == placement.primary
                instance = Instance("primary" if primary else "standby", 1)
                if primary:
                    instance.applied = dict.fromkeys(placement.standbys, 0)
                self.instances[unit, site] = instance

    def body(self, unit: str, site: str) -> dict[str, Any] | None:
        if site in self.down or (unit, site) in self.crashed:
            return None
        i = self.instances[unit, site]
        body: dict[str, Any] = {"unit": unit, "site": site, "role": i.role, "epoch": i.epoch}
        body["last_lsn"], body["last_entry_epoch"] = i.last_lsn, i.last_entry_epoch
        if (unit, site) in self.traffic:
            body["traffic"] = self.traffic[unit, site].view()
        if i.role == "primary":
            body["durable_lsn"] = max(i.applied.values(), default=i.last_lsn)
            body["standbys"] = [
                {"site": s, "applied_lsn": lsn, "lag_entries": i.last_lsn - lsn}
                for s, lsn in i.applied.items()
            ]
        return body

    # AdminPort -----------------------------------------------------------------------

    def set_role(self, unit: str, site: str, change: RoleChange) -> dict[str, Any]:
        self.log.append(f"role {unit}@{site} {change.role} e{change.epoch}")
        if site in self.down or (unit, site) in self.crashed:
            raise RoleRefused(f"{unit} in {site} unreachable")
        i = self.instances[unit, site]
        if change.epoch < i.epoch:
            raise RoleRefused("stale epoch")
        if i.role == "primary" and change.role != "primary":
            self.on_release(unit, site)
        i.role, i.epoch = change.role, change.epoch
        if change.role == "primary":
            standbys = change.standbys or self.topology.standbys_of(site)
            i.applied = dict.fromkeys(standbys, i.last_lsn)
            self.on_primary(unit, site, change.epoch)
        return {"role": i.role, "epoch": i.epoch, "last_lsn": i.last_lsn}

    def catch_up(self, unit: str, site: str, source: str, epoch: int) -> dict[str, Any]:
        self.log.append(f"catch-up {unit}@{site} from {source}")
        for where in (site, source):
            if where in self.down or (unit, where) in self.crashed:
                raise RoleRefused(f"{unit} in {where} unreachable")
        mine, theirs = self.instances[unit, site], self.instances[unit, source]
        fetched = max(0, theirs.last_lsn - mine.last_lsn)
        mine.last_lsn, mine.last_entry_epoch = theirs.last_lsn, theirs.last_entry_epoch
        return {"last_lsn": mine.last_lsn, "fetched": fetched, "discarded": 0}

    def unit_view(self, unit: str, site: str) -> dict[str, Any] | None:
        return self.body(unit, site)


class FakeProber:
    """Probes from ``site``: a down site or a cut link answers nothing."""

    def __init__(self, units: FakeUnits, site: str, cuts: set[frozenset[str]]) -> None:
        self.units, self.site, self.cuts = units, site, cuts

    def _reaches(self, site: str) -> bool:
        return site not in self.units.down and frozenset((self.site, site)) not in self.cuts

    def round(
        self, instances: Mapping[tuple[str, str], str], site_urls: Mapping[str, str]
    ) -> RoundResult:
        probes = {
            k: InstanceProbe(k[0], k[1], self.units.body(*k) if self._reaches(k[1]) else None)
            for k in instances
        }
        return RoundResult(probes, {s: self._reaches(s) for s in site_urls})


class World:
    """Three controllers' worth of observers, one controller under test."""

    def __init__(
        self, tmp_path: Path, site: str = "same-city", topology: Topology | None = None
    ) -> None:
        self.clock = Clock()
        self.topology = topology or default_topology()
        self.log: list[str] = []
        self.dcs = MemoryDcs(self.clock)
        self.keys = Keys(self.topology.name)
        RouteStore(self.dcs, self.topology.name).seed(self.topology)
        self.units = FakeUnits(self.topology, self.log)
        self.units.on_primary = self.set_lease
        self.units.on_release = self.release_lease
        self.leases: dict[str, tuple[str, int]] = {}
        for unit in self.topology.units:
            self.set_lease(unit, self.topology.placement(unit).primary, 1)
        self.cuts: set[frozenset[str]] = set()
        self.observers = {
            s: Observer(
                s,
                self.addresses,
                FakeProber(self.units, s, self.cuts),
                ReportPublisher(self.dcs, self.keys, s, self.topology.timing, self.clock.sleep),
                interval=1.0,
                wall_clock=self.clock.wall,
            )
            for s in self.topology.site_names
        }
        self.runtime = self.controller(tmp_path, site)

    @property
    def addresses(self) -> SiteAddresses:
        sites, units = self.topology.site_names, self.topology.units
        return SiteAddresses(
            units={u: {s: f"http://{u}.{s}" for s in sites} for u in units},
            etcd={s: f"http://etcd.{s}" for s in sites},
        )

    def controller(self, tmp_path: Path, site: str, campaign_delay: float | None = 0.0) -> Runtime:
        """A controller of ``site``; it campaigns at once unless given ``None`` (the
        production rule: only the witness does)."""
        addresses = self.addresses
        credentials = Credentials.from_directory(
            write_credentials(tmp_path / f"credentials-{site}"), CONTROLLER_ROLES
        )
        return assemble(
            site=site, url=f"http://controller.{site}", topology=self.topology,
            credentials=credentials,
            addresses=addresses, dcs=self.dcs, admin=self.units,
            records=RecordStore(f"sqlite:///{tmp_path / f'records-{site}.db'}", site),
            clock=self.clock, wall_clock=self.clock.wall, sleep=self.clock.sleep,
            campaign_delay=campaign_delay,
        )  # fmt: skip

    def set_lease(self, unit: str, site: str, epoch: int) -> None:
        lease = self.dcs.grant(3).id
        self.leases[unit] = (site, lease)
        value = canonical_json({"site": site, "epoch": epoch})
        self.dcs.put(self.keys.primary_lease(unit), value, lease=lease)

    def release_lease(self, unit: str, site: str) -> None:
        holder = self.leases.pop(unit, None)
        if holder is not None and holder[0] == site:
            self.dcs.revoke(holder[1])

    def drop_leases_in(self, site: str) -> None:
        for unit in self.topology.units:
            kv = self.dcs.get(self.keys.primary_lease(unit))
            if kv is not None and f'"site":"{site}"' in kv.value:
                self.dcs.delete(self.keys.primary_lease(unit))

    def publish_rounds(self) -> None:
        """Every live observer (not in a down site) runs one round."""
        for site, observer in self.observers.items():
            if site not in self.units.down:
                observer.run_round()

    def cycle(self, *, join: bool = True) -> str:
        """One probe interval: observers publish, the controller observes, leads and
        decides; with ``join``, until the steps a wake left running have ended too."""
        self.clock.sleep(1.0)
        for site, lease in list(self.leases.values()):
            if site not in self.units.down:
                with contextlib.suppress(LeaseNotFound):
                    self.dcs.keepalive(lease)
        self.publish_rounds()
        self.runtime.leadership.tick()
        sentence = self.runtime.controller.run_cycle()
        if join:
            self.runtime.controller.join_steps()
        return sentence

    def route(self, unit: str) -> tuple[str, int]:
        route = RouteStore(self.dcs, self.topology.name).route(unit)
        assert route is not None
        return route.site, route.epoch

    def kinds(self) -> list[str]:
        return [e.kind for e in self.runtime.records.events()]
