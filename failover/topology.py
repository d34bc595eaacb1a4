"""The topology model: sites, units, buckets, placement, timing and policy (the file's
fields and their defaults are in :mod:`failover.topology_spec`).

Pure: no I/O except :func:`load_topology`, which reads one YAML file. Importable by
``app`` (the only part of ``failover`` it may use) and by ``infra``.

Customer routing is ``customer_id -> bucket -> unit``. The bucket is a stable hash that
gives the same answer on every machine and Python version (never Python's ``hash()``):

    bucket = int.from_bytes(sha256(customer_id.encode("utf-8")).digest()[:8], "big") % buckets

Errors name the file, the field path and the reason, e.g.
``topology.yaml: units[3].primary: unknown site 'prod'; known sites: production, ...``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from failover.input_file import InputFileError, field_path, read_yaml_document
from failover.topology_spec import (
    DEFAULT_BUCKETS,
    DEFAULT_UNIT_COUNT,
    NAME_PATTERN,
    CommitRule,
    Network,
    Policy,
    Replication,
    Site,
    SiteRole,
    Timing,
    TopologySpec,
    UnitSpec,
)
from failover.trend_settings import TrendSettings

CUSTOMER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

__all__ = [
    "CUSTOMER_ID_PATTERN",
    "DEFAULT_BUCKETS",
    "DEFAULT_UNIT_COUNT",
    "NAME_PATTERN",
    "BucketRange",
    "CommitRule",
    "Network",
    "Placement",
    "Policy",
    "Replication",
    "Site",
    "SiteRole",
    "Timing",
    "Topology",
    "TopologyError",
    "TopologySpec",
    "UnitSpec",
    "bucket_of",
    "default_topology",
    "describe",
    "load_topology",
    "parse_topology",
    "validate_customer_id",
]


class TopologyError(InputFileError):
    """A topology that cannot be used. ``str()`` reads ``file: field.path: reason``."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a unit's instances live: one writable primary and a standby in each other
    site, ``city_standby`` in the primary's city and ``remote_standby`` in the other."""

    unit: str
    primary: str
    city_standby: str
    remote_standby: str

    @property
    def standbys(self) -> tuple[str, str]:
        """The two standbys, the nearer first."""
        return (self.city_standby, self.remote_standby)

    @property
    def sites(self) -> tuple[str, str, str]:
        return (self.primary, self.city_standby, self.remote_standby)


@dataclass(frozen=True, slots=True)
class BucketRange:
    """Inclusive range of buckets ``first..last``."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.first}-{self.last}" if self.first != self.last else str(self.first)


@dataclass(frozen=True)
class Topology:
    """A validated topology. Build it with :func:`load_topology` or :func:`parse_topology`."""

    name: str
    sites: tuple[Site, ...]
    buckets: int
    units: tuple[str, ...]
    placements: Mapping[str, Placement]
    bucket_ranges: Mapping[str, tuple[BucketRange, ...]]
    bucket_table: tuple[str, ...]
    replication: Replication
    network: Network
    timing: Timing
    policy: Policy
    trends: TrendSettings

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)

    @property
    def site_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sites)

    @property
    def dr_site(self) -> str:
        return next(s.name for s in self.sites if s.role is SiteRole.DR)

    def placement(self, unit: str) -> Placement:
        return self.placements[unit]

    def bucket_of(self, customer_id: str) -> int:
        return bucket_of(customer_id, self.buckets)

    def unit_of(self, customer_id: str) -> str:
        """The unit that serves ``customer_id``. Raises ``ValueError`` on a malformed id."""
        validate_customer_id(customer_id)
        return self.bucket_table[self.bucket_of(customer_id)]

    def same_city(self, a: str, b: str) -> bool:
        return self.site(a).city == self.site(b).city

    def standbys_of(self, primary: str) -> tuple[str, ...]:
        """The standby sites of a primary in ``primary``: every other site, nearer first."""
        others = [s for s in self.site_names if s != primary]
        return tuple(sorted(others, key=lambda s: not self.same_city(s, primary)))

    def link_delay_ms(self, a: str, b: str) -> float:
        """One-way delay of the link between two different sites (``network``)."""
        if self.same_city(a, b):
            return self.network.same_city_delay_ms
        return self.network.cross_city_delay_ms


def validate_customer_id(customer_id: str) -> None:
    """Customer ids are 1–64 characters of ``[A-Za-z0-9._:-]``."""
    if not CUSTOMER_ID_PATTERN.fullmatch(customer_id):
        raise ValueError("customer_id must be 1-64 characters of [A-Za-z0-9._:-]")


def bucket_of(customer_id: str, buckets: int = DEFAULT_BUCKETS) -> int:
    """Stable bucket of a customer: first 8 bytes of SHA-256 (big-endian) modulo ``buckets``."""
    digest = hashlib.sha256(customer_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file. Raises :class:`TopologyError` naming the file."""
    source = str(path)
    return parse_topology(read_yaml_document(path, TopologyError), source=source)


def parse_topology(document: object, source: str = "<topology>") -> Topology:
    """Validate a parsed YAML document and derive defaults (see module docstring)."""
    if not isinstance(document, dict):
        raise TopologyError(source, "", "the document must be a mapping with a 'sites' list")
    try:
        spec = TopologySpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = field_path(first["loc"], _UNION_BRANCHES)
        raise TopologyError(source, field, first["msg"]) from exc
    return _build(spec, source)


def default_topology() -> Topology:
    """The topology of docs/design.md §1: three sites, eight units, 1024 buckets."""
    return parse_topology(
        {
            "sites": [
                {"name": "production", "city": "city-a", "role": "active"},
                {"name": "same-city", "city": "city-a", "role": "active"},
                {"name": "remote-dr", "city": "city-b", "role": "dr"},
            ]
        },
        source="<default topology>",
    )


_UNION_BRANCHES = frozenset({"int"})
"""pydantic's label for the ``units: N`` branch of ``units`` (not a field)."""


def _build(spec: TopologySpec, source: str) -> Topology:
    sites = _check_sites(spec, source)
    units = _unit_specs(spec)
    if not units:
        raise TopologyError(source, "units", "need at least one unit (or omit it: 8 units)")
    _check_unique([u.name for u in units], source, "units", "unit")
    placements = {u.name: _placement(i, u, sites, source) for i, u in enumerate(units)}
    ranges = _bucket_ranges(spec.buckets, units, source)
    table = ["" for _ in range(spec.buckets)]
    for unit, unit_ranges in ranges.items():
        for r in unit_ranges:
            for b in range(r.first, r.last + 1):
                table[b] = unit
    if spec.timing.quorum > len(sites) or spec.timing.quorum <= len(sites) // 2:
        raise TopologyError(
            source,
            "timing.quorum",
            f"must be a strict majority of the {len(sites)} sites, got {spec.timing.quorum}",
        )
    ttl = spec.timing.primary_lease_ttl_seconds
    if spec.timing.fence_margin_seconds >= ttl:
        raise TopologyError(
            source, "timing.fence_margin_seconds", f"must be below the primary lease TTL ({ttl} s)"
        )
    return Topology(
        name=spec.name,
        sites=tuple(spec.sites),
        buckets=spec.buckets,
        units=tuple(u.name for u in units),
        placements=placements,
        bucket_ranges=ranges,
        bucket_table=tuple(table),
        replication=spec.replication,
        network=spec.network,
        timing=spec.timing,
        trends=spec.trends,
        policy=spec.policy,
    )


def _check_sites(spec: TopologySpec, source: str) -> dict[str, Site]:
    _check_unique([s.name for s in spec.sites], source, "sites", "site")
    active = [s for s in spec.sites if s.role is SiteRole.ACTIVE]
    dr = [s for s in spec.sites if s.role is SiteRole.DR]
    if len(spec.sites) != 3 or len(active) != 2 or len(dr) != 1:
        raise TopologyError(
            source, "sites", "need exactly three sites: two 'active' (city A) and one 'dr'"
        )
    if active[0].city != active[1].city:
        raise TopologyError(
            source,
            "sites",
            f"the two active sites must share a city, got {active[0].city!r} "
            f"and {active[1].city!r}",
        )
    if dr[0].city == active[0].city:
        raise TopologyError(source, "sites", "the dr site must be in another city")
    return {s.name: s for s in spec.sites}


def _unit_specs(spec: TopologySpec) -> list[UnitSpec]:
    if isinstance(spec.units, int):
        return [UnitSpec(name=f"u{i:02d}") for i in range(spec.units)]
    return list(spec.units)


def _check_unique(names: list[str], source: str, field: str, what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise TopologyError(source, f"{field}[{i}].name", f"duplicate {what} name {name!r}")
        seen.add(name)


def _placement(index: int, unit: UnitSpec, sites: dict[str, Site], source: str) -> Placement:
    active = [s.name for s in sites.values() if s.role is SiteRole.ACTIVE]
    dr = next(s.name for s in sites.values() if s.role is SiteRole.DR)
    primary = unit.primary or active[index % 2]
    field = f"units[{index}].primary"
    if primary not in sites:
        known = ", ".join(sites)
        raise TopologyError(source, field, f"unknown site {primary!r}; known sites: {known}")
    if sites[primary].role is not SiteRole.ACTIVE:
        raise TopologyError(source, field, "a primary must start in an active site")
    city_standby = next(a for a in active if a != primary)
    return Placement(unit.name, primary, city_standby, dr)


_RANGE = re.compile(r"^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$")
# More digits than any bucket number has: refused before int() (which refuses strings
# past 4300 digits with a ValueError of its own).
_MAX_BUCKET_DIGITS = len(str(1 << 20))


def _bucket_ranges(
    buckets: int, units: list[UnitSpec], source: str
) -> dict[str, tuple[BucketRange, ...]]:
    explicit = [u.buckets is not None for u in units]
    if any(explicit) and not all(explicit):
        missing = explicit.index(False)
        raise TopologyError(
            source, f"units[{missing}].buckets", "give bucket ranges for every unit or for none"
        )
    if not any(explicit):
        if len(units) > buckets:
            raise TopologyError(source, "units", f"more units ({len(units)}) than buckets")
        return {
            u.name: (BucketRange(i * buckets // len(units), (i + 1) * buckets // len(units) - 1),)
            for i, u in enumerate(units)
        }
    owner: dict[int, str] = {}
    result: dict[str, tuple[BucketRange, ...]] = {}
    for i, unit in enumerate(units):
        ranges = _parse_ranges(unit.buckets or "", buckets, source, f"units[{i}].buckets")
        for r in ranges:
            for b in range(r.first, r.last + 1):
                if b in owner:
                    raise TopologyError(
                        source,
                        f"units[{i}].buckets",
                        f"bucket {b} is already assigned to unit {owner[b]}",
                    )
                owner[b] = unit.name
        result[unit.name] = ranges
    gaps = [b for b in range(buckets) if b not in owner]
    if gaps:
        raise TopologyError(
            source,
            "units",
            f"buckets must cover 0..{buckets - 1}; {len(gaps)} unassigned, first {gaps[0]}",
        )
    return result


def _parse_ranges(text: str, buckets: int, source: str, field: str) -> tuple[BucketRange, ...]:
    ranges: list[BucketRange] = []
    for part in text.split(","):
        match = _RANGE.match(part)
        if not match:
            raise TopologyError(source, field, f"{part.strip()!r} is not a range like '0-127'")
        numbers = [g for g in match.groups() if g is not None]
        digits = max(len(n.lstrip("0")) for n in numbers)
        if digits > _MAX_BUCKET_DIGITS:
            reason = f"a bucket number of {digits} digits is outside 0..{buckets - 1}"
            raise TopologyError(source, field, reason)
        first = int(numbers[0])
        last = int(numbers[-1])
        if first > last or last >= buckets:
            raise TopologyError(
                source, field, f"range {first}-{last} is outside 0..{buckets - 1} or reversed"
            )
        ranges.append(BucketRange(first, last))
    return tuple(ranges)


def describe(topology: Topology) -> list[dict[str, str]]:
    """One row per unit for ``watertight topology show``."""
    return [
        {
            "unit": unit,
            "primary": topology.placements[unit].primary,
            "city_standby": topology.placements[unit].city_standby,
            "remote_standby": topology.placements[unit].remote_standby,
            "buckets": ",".join(str(r) for r in topology.bucket_ranges[unit]),
        }
        for unit in topology.units
    ]
