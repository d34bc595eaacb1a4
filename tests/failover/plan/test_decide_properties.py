"""Properties of the decision for any snapshot (hypothesis): the invariants of docs/design.md §3.

Two kinds of snapshots: *arbitrary* ones (every field drawn independently, including
nonsense the adapters should never produce) and *plausible* ones (a steady system with
outages, partitions, stale observers, expired leases, lag and approvals applied to it),
which reach promotions far more often.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from failover.actions import AssignPrimary, DemoteInstance, PromoteUnit, RequestApproval
from failover.plan import Decision, decide
from failover.quorum import SiteState, instance_verdict, site_verdicts
from failover.snapshot import (
    Approval,
    FailoverRecord,
    InFlightPromotion,
    InstanceState,
    LeaseHolder,
    ObserverReport,
    Role,
    Route,
    Snapshot,
    UnitReplication,
    steady_state,
)
from failover.topology import SiteRole, Topology, default_topology, parse_topology

NOW = 10_000.0
PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def variant(**sections: Any) -> Topology:
    return parse_topology(
        {
            "sites": [
                {"name": "production", "city": "city-a", "role": "active"},
                {"name": "same-city", "city": "city-a", "role": "active"},
                {"name": "remote-dr", "city": "city-b", "role": "dr"},
            ],
            "units": 4,
            **sections,
        }
    )


DEFAULT = default_topology()
VARIANTS = (
    DEFAULT,
    variant(),
    variant(policy={"remote_dr_auto_promotion": True}),
    variant(replication={"allow_data_losing_failover": True}),
    variant(
        policy={"remote_dr_auto_promotion": True, "max_failovers_per_unit_per_hour": 1},
        replication={"allow_data_losing_failover": True},
    ),
    variant(timing={"failure_rounds": 1, "quorum": 3}),
)
COUNTS = st.sampled_from([0, 0, 0, 1, 2, 3, 5])
EPOCHS = st.integers(min_value=1, max_value=4)
LSNS = st.integers(min_value=0, max_value=30)
AGES = st.sampled_from([0.0, 0.0, 1.5, 2.5, 60.0, None])
LEADERS = st.sampled_from(["c", "c", "c", "other", None])
INSTANCE_STATES = st.builds(
    InstanceState,
    reachable=st.booleans(),
    role=st.sampled_from([None, *Role]),
    epoch=st.one_of(st.none(), st.integers(0, 5)),
    applied_lsn=st.one_of(st.none(), LSNS),
    last_entry_epoch=st.one_of(st.none(), st.integers(0, 5)),
)
REPLICATION = st.builds(UnitReplication, LSNS)
RARELY = st.integers(0, 9).map(lambda n: n == 0)
ONE_IN_FIVE = st.integers(0, 4).map(lambda n: n == 0)


def sparse(keys: list[Any], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    """A few keys with drawn values (cheap to generate, shrinks well)."""
    return st.dictionaries(st.sampled_from(keys), values, max_size=4)


# --- snapshot transformations ------------------------------------------------------------------


def site_outage(s: Snapshot, sites: set[str], rounds: int) -> Snapshot:
    """Observers inside ``sites`` fall silent; the others fail to reach them for ``rounds``."""
    reports = {}
    for observer, r in s.observer_reports.items():
        if observer in sites:
            reports[observer] = replace(r, reported_at=NOW - 60)
            continue
        reports[observer] = replace(
            r,
            site_failures={t: rounds if t in sites else c for t, c in r.site_failures.items()},
            instance_failures={
                k: rounds if k[1] in sites else c for k, c in r.instance_failures.items()
            },
        )
    instances = {k: InstanceState(False) if k[1] in sites else v for k, v in s.instances.items()}
    return replace(s, observer_reports=reports, instances=instances)


def city_partition(s: Snapshot, rounds: int) -> Snapshot:
    """The two active sites cannot reach each other; the witness reaches everything."""
    a, b = (site.name for site in s.topology.sites if site.role is SiteRole.ACTIVE)
    cut = {a: b, b: a}
    reports = {}
    for observer, r in s.observer_reports.items():
        other = cut.get(observer)
        reports[observer] = replace(
            r,
            site_failures={t: rounds if t == other else c for t, c in r.site_failures.items()},
            instance_failures={
                k: rounds if k[1] == other else c for k, c in r.instance_failures.items()
            },
        )
    return replace(s, observer_reports=reports)


def instances_dead(s: Snapshot, keys: list[tuple[str, str]], rounds: int) -> Snapshot:
    reports = {
        o: replace(r, instance_failures={**r.instance_failures, **dict.fromkeys(keys, rounds)})
        for o, r in s.observer_reports.items()
    }
    instances = {**s.instances, **{k: InstanceState(False) for k in keys}}
    return replace(s, observer_reports=reports, instances=instances)


def primaries_stopped(s: Snapshot, roles: dict[str, Role]) -> Snapshot:
    """The primaries of some units fenced themselves or restarted as standbys."""
    instances = dict(s.instances)
    for unit, role in roles.items():
        key = (unit, s.routes[unit].site)
        if instances[key].reachable:
            instances[key] = replace(instances[key], role=role)
    return replace(s, instances=instances)


def observers_stale(s: Snapshot, stale: set[str]) -> Snapshot:
    reports = {
        o: replace(r, reported_at=NOW - 60) if o in stale else r
        for o, r in s.observer_reports.items()
    }
    return replace(s, observer_reports=reports)


# --- strategies, built once per topology (building them per example is the slow part) -------


class Strategies:
    """Every strategy the snapshot generators need for one topology."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        sites, units = topology.site_names, topology.units
        self.pairs = [(u, s) for u in units for s in sites]
        self.steady = steady_state(topology, now=NOW, controller="c")
        site_epochs = st.tuples(st.sampled_from(sites), EPOCHS)
        self.routes = sparse(list(units), site_epochs.map(lambda p: Route(*p)))
        self.leases = sparse(list(units), site_epochs.map(lambda p: LeaseHolder(*p)))
        self.instances = sparse(self.pairs, INSTANCE_STATES)
        self.replication = sparse(list(units), REPLICATION)
        self.instance_counts = sparse(self.pairs, COUNTS)
        self.approvals = self._approvals(EPOCHS)
        self.current_approvals = self._approvals(st.sampled_from([1, 1, 1, 2]))
        # A person approving every unit's move to one site at once, accepting any loss.
        self.blanket_approvals = st.sampled_from(sites).map(
            lambda site: tuple(Approval(f"b-{u}", u, site, 1, 30, True) for u in units)
        )
        self.failovers = st.lists(self._failover_record(), max_size=3).map(tuple)
        self.in_flight = st.lists(self._in_flight(), max_size=1).map(tuple)
        self.outages = st.sampled_from([0, 1, 1, 1, 2, 2]).flatmap(
            lambda n: st.permutations(sites).map(lambda p: set(p[:n]))
        )
        self.rounds = st.sampled_from([1, 2, 3, 3, 4, 5])
        self.dead = st.lists(st.sampled_from(self.pairs), max_size=3)
        self.stopped = st.dictionaries(
            st.sampled_from(units), st.sampled_from([Role.FENCED, Role.STANDBY]), max_size=2
        )
        self.lags = st.lists(LSNS, min_size=len(self.pairs), max_size=len(self.pairs))
        self.keep_lease = st.lists(st.booleans(), min_size=len(units), max_size=len(units))
        self.stale = st.lists(ONE_IN_FIVE, min_size=len(sites), max_size=len(sites))

    def _approvals(self, epochs: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[Approval, ...]]:
        one = st.builds(
            Approval,
            id=st.sampled_from([f"a-{i}" for i in range(8)]),
            unit=st.sampled_from(self.topology.units),
            to_site=st.sampled_from(self.topology.site_names),
            expected_epoch=epochs,
            accepted_loss=LSNS,
            granted=st.sampled_from([True, True, False]),
        )
        return st.lists(one, max_size=4, unique_by=lambda a: a.id).map(tuple)

    def _failover_record(self) -> st.SearchStrategy[FailoverRecord]:
        return st.builds(
            FailoverRecord,
            unit=st.sampled_from(self.topology.units),
            at=st.floats(NOW - 7200, NOW),
            from_site=st.sampled_from(self.topology.site_names),
            to_site=st.sampled_from(self.topology.site_names),
            epoch=EPOCHS,
        )

    def _in_flight(self) -> st.SearchStrategy[InFlightPromotion]:
        def build(sites: list[str], unit: str, epoch: int) -> InFlightPromotion:
            op = f"op-{unit}-{epoch}"
            return InFlightPromotion(op, unit, sites[0], sites[1], epoch, epoch + 1, NOW)

        return st.builds(
            build,
            st.permutations(self.topology.site_names),
            st.sampled_from(self.topology.units),
            EPOCHS,
        )


STRATEGIES = {id(t): Strategies(t) for t in VARIANTS}


def of(topology: Topology) -> Strategies:
    return STRATEGIES[id(topology)]


@st.composite
def arbitrary_snapshots(draw: st.DrawFn, topology: Topology) -> Snapshot:
    """Every part drawn independently: a base value everywhere, then sparse overrides."""
    k = of(topology)
    reports = {}
    for observer in topology.site_names:
        age = draw(AGES)
        if age is not None:
            base = dict.fromkeys(k.pairs, draw(COUNTS))
            reports[observer] = ObserverReport(
                observer,
                NOW - age,
                {t: draw(COUNTS) for t in topology.site_names},
                {**base, **draw(k.instance_counts)},
            )
    return replace(
        k.steady,
        leader=draw(LEADERS),
        observer_reports=reports,
        routes={**k.steady.routes, **draw(k.routes)},
        leases=draw(k.leases),
        instances={**k.steady.instances, **draw(k.instances)},
        replication=draw(k.replication),
        approvals=draw(k.approvals),
        failovers=draw(k.failovers),
        in_flight=draw(k.in_flight),
        frozen=draw(RARELY),
    )


@st.composite
def unit_conditions(draw: st.DrawFn, s: Snapshot) -> Snapshot:
    """Per unit: lease kept or expired, acknowledged position, standby positions."""
    k = of(s.topology)
    keep = dict(zip(s.topology.units, draw(k.keep_lease), strict=True))
    replication = {u: draw(REPLICATION) for u in s.topology.units}
    instances = dict(s.instances)
    for key, lsn in zip(k.pairs, draw(k.lags), strict=True):
        state = instances[key]
        if state.reachable and state.role is Role.STANDBY:
            instances[key] = replace(state, applied_lsn=lsn, last_entry_epoch=1)
    leases = {u: h for u, h in s.leases.items() if keep[u]}
    return replace(s, leases=leases, replication=replication, instances=instances)


def some_stale(draw: st.DrawFn, s: Snapshot, among: tuple[str, ...]) -> Snapshot:
    """Each observer in ``among`` goes silent with probability 1/5."""
    flags = draw(of(s.topology).stale)
    return observers_stale(
        s, {o for o, f in zip(s.topology.site_names, flags, strict=True) if f and o in among}
    )


@st.composite
def plausible_snapshots(draw: st.DrawFn, topology: Topology) -> Snapshot:
    """A steady system with outages, partitions, dead instances, silence, lag, approvals."""
    k = of(topology)
    s = site_outage(k.steady, draw(k.outages), draw(k.rounds))
    if draw(ONE_IN_FIVE):
        s = city_partition(s, draw(k.rounds))
    s = instances_dead(s, draw(k.dead), draw(k.rounds))
    s = primaries_stopped(s, draw(k.stopped))
    s = some_stale(draw, s, topology.site_names)
    s = draw(unit_conditions(s))
    blanket = draw(k.blanket_approvals) if draw(ONE_IN_FIVE) else ()
    return replace(
        s,
        approvals=draw(k.current_approvals) + blanket,
        failovers=draw(k.failovers),
        in_flight=draw(k.in_flight),
        frozen=draw(RARELY),
    )


@st.composite
def witnessed_city_partitions(draw: st.DrawFn, topology: Topology) -> Snapshot:
    """A partition between the city-A sites, the witness fresh and reaching everything."""
    k = of(topology)
    s = city_partition(k.steady, draw(st.integers(0, 50)))
    actives = tuple(site.name for site in topology.sites if site.role is SiteRole.ACTIVE)
    s = some_stale(draw, s, actives)
    s = draw(unit_conditions(s))
    return replace(s, approvals=draw(k.current_approvals), leases={})


ARBITRARY = st.one_of([arbitrary_snapshots(t) for t in VARIANTS])
PLAUSIBLE = st.one_of([plausible_snapshots(t) for t in VARIANTS])
PARTITIONS = st.one_of([witnessed_city_partitions(t) for t in VARIANTS])
ANY_SNAPSHOT = st.one_of(ARBITRARY, PLAUSIBLE)
DEFAULT_POLICY_SNAPSHOT = st.one_of(
    arbitrary_snapshots(DEFAULT), plausible_snapshots(DEFAULT), plausible_snapshots(VARIANTS[1])
)


# --- helpers -----------------------------------------------------------------------------------


def promotions(decision: Decision) -> list[PromoteUnit]:
    return [a for a in decision.actions if isinstance(a, PromoteUnit)]


def routes_after(snapshot: Snapshot, decision: Decision) -> dict[str, Route]:
    """Apply the promotions as the etcd transaction would: compare the route, then move."""
    routes = dict(snapshot.routes)
    for move in promotions(decision):
        assert routes.get(move.unit) == Route(move.from_site, move.expected_epoch)
        routes[move.unit] = Route(move.to_site, move.new_epoch)
    return routes


# --- properties --------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_the_decision_never_yields_two_primaries_for_a_unit(snapshot: Snapshot) -> None:
    decision = decide(snapshot)
    per_unit = Counter(
        a.unit for a in decision.actions if isinstance(a, PromoteUnit | AssignPrimary)
    )
    assert all(count == 1 for count in per_unit.values())
    routes = routes_after(snapshot, decision)
    for action in decision.actions:
        if isinstance(action, PromoteUnit):
            assert action.new_epoch == action.expected_epoch + 1
        if isinstance(action, AssignPrimary):
            assert routes[action.unit] == Route(action.site, action.epoch)
        if isinstance(action, DemoteInstance):
            assert routes[action.unit].site != action.site
            assert action.epoch == routes[action.unit].epoch


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_never_promotes_while_the_old_lease_key_exists(snapshot: Snapshot) -> None:
    for move in promotions(decide(snapshot)):
        assert move.unit not in snapshot.leases


@PROPERTY_SETTINGS
@given(DEFAULT_POLICY_SNAPSHOT)
def test_never_auto_promotes_remote_dr_under_the_default_policy(snapshot: Snapshot) -> None:
    for move in promotions(decide(snapshot)):
        if move.to_site == DEFAULT.dr_site:
            assert move.approval_id is not None


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_data_losing_promotions_are_approved_or_allowed_by_policy(snapshot: Snapshot) -> None:
    topology = snapshot.topology
    granted = {a.id: a for a in snapshot.approvals if a.granted}
    for move in promotions(decide(snapshot)):
        if move.approval_id is not None:
            approval = granted[move.approval_id]
            assert (approval.unit, approval.to_site) == (move.unit, move.to_site)
            assert approval.expected_epoch == move.expected_epoch
            assert approval.accepted_loss >= move.accepted_loss
        elif move.to_site == topology.dr_site:
            assert topology.policy.remote_dr_auto_promotion
        elif move.data_losing:
            assert topology.replication.allow_data_losing_failover


@PROPERTY_SETTINGS
@given(PARTITIONS)
def test_never_fails_over_on_a_city_partition_the_witness_sees_healthy(snapshot: Snapshot) -> None:
    decision = decide(snapshot)
    assert [m for m in promotions(decision) if m.to_site != m.from_site] == []
    assert not [a for a in decision.actions if isinstance(a, RequestApproval)]


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_never_promotes_into_a_site_that_is_down_or_an_instance_out_of_reach(
    snapshot: Snapshot,
) -> None:
    verdicts = site_verdicts(snapshot)
    for move in promotions(decide(snapshot)):
        seen = instance_verdict(
            move.unit, move.to_site, snapshot.observer_reports, snapshot.now, snapshot.topology
        )
        target = snapshot.instance(move.unit, move.to_site)
        assert target.reachable
        if move.to_site == move.from_site:  # re-promotion in place of a stopped primary
            assert verdicts[move.to_site].state in {SiteState.UP, SiteState.SUSPECT}
            assert seen.reachable_by_quorum
            assert target.role in {Role.FENCED, Role.STANDBY}
            assert target.epoch == move.expected_epoch
            continue
        assert verdicts[move.to_site].state in {SiteState.UP, SiteState.UNKNOWN}
        assert seen.reachable_by_quorum or (move.approval_id and seen.reached_by_every_voter)
        assert target.role is Role.STANDBY


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_never_acts_when_frozen_or_not_the_leader(snapshot: Snapshot) -> None:
    decision = decide(snapshot)
    if snapshot.frozen or snapshot.leader != snapshot.controller:
        assert decision.actions == ()


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT, st.data())
def test_a_unit_still_acting_from_an_earlier_cycle_gets_no_action_and_the_others_the_same(
    snapshot: Snapshot, data: st.DataObject
) -> None:
    units = sorted(snapshot.topology.units)
    acting = frozenset(data.draw(st.sets(st.sampled_from(units)), label="acting"))
    before = decide(snapshot)
    decision = decide(replace(snapshot, acting=acting))
    assert not [a for a in decision.actions if a.unit in acting]
    assert decision.actions == tuple(a for a in before.actions if a.unit not in acting)
    if snapshot.leader == snapshot.controller:  # a leader's sentence names them
        for unit in acting:
            assert unit in decision.summary


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_the_summary_is_a_sentence_naming_every_unit_it_acts_on(snapshot: Snapshot) -> None:
    decision = decide(snapshot)
    assert decision.summary.strip()
    assert "\n" not in decision.summary
    for action in decision.actions:
        assert action.unit in decision.summary


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_a_pending_approval_is_never_requested_twice(snapshot: Snapshot) -> None:
    pending = {(a.unit, a.to_site, a.expected_epoch) for a in snapshot.approvals if not a.granted}
    for action in decide(snapshot).actions:
        if isinstance(action, RequestApproval):
            assert (action.unit, action.to_site, action.expected_epoch) not in pending


@PROPERTY_SETTINGS
@given(PLAUSIBLE, st.sampled_from(DEFAULT.site_names))
def test_one_observers_view_never_moves_a_unit_without_a_person(
    snapshot: Snapshot, loud: str
) -> None:
    def quiet(r: ObserverReport) -> ObserverReport:
        return replace(
            r,
            site_failures=dict.fromkeys(r.site_failures, 0),
            instance_failures=dict.fromkeys(r.instance_failures, 0),
        )

    reports = {o: r if o == loud else quiet(r) for o, r in snapshot.observer_reports.items()}
    snapshot = replace(snapshot, observer_reports=reports, approvals=(), in_flight=())
    assert [m for m in promotions(decide(snapshot)) if m.to_site != m.from_site] == []


# --- the strategies reach the interesting cases (so the properties are not vacuous) ------------

SEARCH = settings(
    max_examples=400, database=None, phases=[Phase.generate], deadline=None, derandomize=True
)


def test_plausible_snapshots_reach_automatic_promotions() -> None:
    def auto(s: Snapshot) -> bool:
        return any(m.approval_id is None for m in promotions(decide(s)))

    find(PLAUSIBLE, auto, settings=SEARCH)


def test_plausible_snapshots_reach_approved_data_losing_promotions() -> None:
    def approved(s: Snapshot) -> bool:
        return any(m.approval_id and m.data_losing for m in promotions(decide(s)))

    find(PLAUSIBLE, approved, settings=SEARCH)


def test_plausible_snapshots_reach_approval_requests() -> None:
    def asks(s: Snapshot) -> bool:
        return any(isinstance(a, RequestApproval) for a in decide(s).actions)

    find(PLAUSIBLE, asks, settings=SEARCH)


def test_plausible_snapshots_reach_loss_free_promotions_after_a_catch_up() -> None:
    def caught_up(s: Snapshot) -> bool:
        return any(m.catch_up_from and not m.data_losing for m in promotions(decide(s)))

    find(PLAUSIBLE, caught_up, settings=SEARCH)


def test_plausible_snapshots_reach_re_promotions_in_place() -> None:
    def in_place(s: Snapshot) -> bool:
        return any(m.from_site == m.to_site for m in promotions(decide(s)))

    find(PLAUSIBLE, in_place, settings=SEARCH)


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_a_loss_free_promotion_ends_at_or_above_every_other_copy(snapshot: Snapshot) -> None:
    """Invariant 2 under quorum commit: every acknowledged write is on one of the two
    other copies, so a promotion that claims to lose nothing must know both positions
    and, after its catch-up, rank at least as high as each of them."""
    for move in decide(snapshot).actions:
        if not isinstance(move, PromoteUnit) or move.data_losing or move.from_site == move.to_site:
            continue
        others = [s for s in snapshot.topology.site_names if s != move.from_site]
        positions = {s: snapshot.instance(move.unit, s).position for s in others}
        assert all(p is not None for p in positions.values()), (move, positions)
        own = positions[move.to_site]
        assert own is not None
        if move.catch_up_from is not None:
            source = positions[move.catch_up_from]
            assert source is not None and source > own
            own = source
        assert all(own >= p for p in positions.values() if p is not None), (move, positions)
        acknowledged = snapshot.replication[move.unit].acknowledged_lsn
        assert own[1] >= acknowledged


@PROPERTY_SETTINGS
@given(ANY_SNAPSHOT)
def test_an_automatic_loss_free_failover_never_lands_in_remote_dr_by_default(
    snapshot: Snapshot,
) -> None:
    if snapshot.topology.policy.remote_dr_auto_promotion:
        return
    for move in decide(snapshot).actions:
        if isinstance(move, PromoteUnit) and move.approval_id is None:
            assert move.to_site != snapshot.topology.dr_site or move.from_site == move.to_site
