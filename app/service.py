"""The unit service: wires database, node, write path, receiver and queries together."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.catchup import CatchUp
from app.database import Database
from app.errors import InvalidRequestError, WrongUnitError
from app.gray_fault import GrayFault
from app.lease import PrimaryLease
from app.lease_watchdog import LeaseWatchdog
from app.metrics import UnitMetrics
from app.node import Node
from app.queries import Queries
from app.receiver import Receiver
from app.roles import NodeRole, role_at_start
from app.settings import UnitSettings
from app.traffic import TrafficCounters
from app.writes import WritePath
from failover.credentials import Credentials
from failover.topology import Topology, default_topology, load_topology

log = logging.getLogger(__name__)


@dataclass
class UnitService:
    """Everything one instance needs; build with :func:`build_service`, then ``start()``."""

    settings: UnitSettings
    topology: Topology
    db: Database
    node: Node
    writes: WritePath
    receiver: Receiver
    catch_up: CatchUp
    queries: Queries
    metrics: UnitMetrics
    credentials: Credentials
    traffic: TrafficCounters = field(default_factory=TrafficCounters)
    gray: GrayFault = field(default_factory=GrayFault)
    """The gray-failure drill's fault (app/gray_fault.py); none unless an operator sets one."""
    watchdog: LeaseWatchdog = field(init=False)

    def __post_init__(self) -> None:
        self.watchdog = LeaseWatchdog(self.node)

    def start(self) -> None:
        """Create the schema and take the role decided by the restart rule."""
        self.db.create_schema()
        initial = role_at_start(
            self.node.load_stored(),
            configured_role(self.settings, self.topology),
            self.settings.site,
            configured_epoch_explicit="epoch" in self.settings.model_fields_set,
        )
        self.node.start(initial)
        self.watchdog.start()
        log.info("unit %s at %s started as %s", self.settings.unit, self.settings.site, initial)

    def stop(self) -> None:
        self.watchdog.stop()
        self.writes.stop()
        self.receiver.close()  # before the database: nothing is applied to a disposed engine
        self.node.stop()
        self.db.dispose()

    def check_customer(self, customer_id: str) -> None:
        """422 for a malformed id, 421 naming the right unit for another unit's customer."""
        try:
            unit = self.topology.unit_of(customer_id)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from exc
        if unit != self.settings.unit:
            raise WrongUnitError(
                f"customer {customer_id} belongs to unit {unit}, this is {self.settings.unit}",
                extra={"unit": unit},
            )


def build_service(settings: UnitSettings, lease: PrimaryLease) -> UnitService:
    """Construct (but do not start) the service; ``lease`` is injected (see lease_factory)."""
    topology = load_topology(settings.topology) if settings.topology else default_topology()
    if settings.unit not in topology.units:
        raise ValueError(f"unit {settings.unit!r} is not in the topology {topology.name!r}")
    if settings.site not in topology.site_names:
        raise ValueError(f"site {settings.site!r} is not in the topology {topology.name!r}")
    db = Database(settings.resolved_database_url())
    credentials = settings.credentials()
    node = Node(settings, topology, db, lease, credentials)
    limit = settings.credit_limit_minor
    receiver = Receiver(node, db)
    traffic = TrafficCounters()
    gray = GrayFault()
    return UnitService(
        settings=settings,
        topology=topology,
        db=db,
        node=node,
        writes=WritePath(node, db, limit, topology.replication.ack_timeout_seconds, gray),
        receiver=receiver,
        catch_up=CatchUp(node, db, receiver, credentials),
        queries=Queries(node, db, limit, traffic),
        metrics=UnitMetrics(),
        credentials=credentials,
        traffic=traffic,
        gray=gray,
    )


def configured_role(settings: UnitSettings, topology: Topology) -> NodeRole:
    """The role the settings ask for, with standbys defaulting to the topology placement."""
    placement = topology.placement(settings.unit)
    site = settings.site
    if settings.role != "primary":
        primary = placement.primary if placement.primary != site else None
        return NodeRole(settings.role, settings.epoch, primary)
    standbys = settings.standbys
    if standbys is None:
        standbys = topology.standbys_of(site)
    return NodeRole("primary", settings.epoch, site, tuple(standbys))
