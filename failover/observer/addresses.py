"""Where everything is, *as reachable from one site* (through the link proxies locally).

The file (JSON) the platform writes for each site's controller/observer::

    {"units": {"u00": {"production": "http://127.0.0.1:41001", ...}, ...},
     "etcd": {"same-city": "http://127.0.0.1:42007", ...},
     "controllers": {"production": "http://127.0.0.1:43001", ...}}

``units`` and ``etcd`` are the addresses *this* site dials (the proxy listener for
(this site → that site)); ``controllers`` are the controllers' public API URLs, used to
point a client at the leader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from failover.topology import Topology, default_topology, load_topology


class AddressError(ValueError):
    """The address map is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class SiteAddresses:
    units: Mapping[str, Mapping[str, str]]
    etcd: Mapping[str, str] = field(default_factory=dict)
    controllers: Mapping[str, str] = field(default_factory=dict)

    def unit_url(self, unit: str, site: str) -> str | None:
        url = self.units.get(unit, {}).get(site)
        return url.rstrip("/") if url else None

    def instances(self) -> dict[tuple[str, str], str]:
        """``(unit, site) -> base URL`` for every known instance."""
        return {
            (unit, site): url.rstrip("/")
            for unit, sites in self.units.items()
            for site, url in sites.items()
        }

    @classmethod
    def from_json(cls, text: str, origin: str = "address map") -> SiteAddresses:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise AddressError(f"{origin}: not JSON: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("units"), dict):
            raise AddressError(f"{origin}: expected an object with 'units' (unit → site → URL)")
        for name in ("etcd", "controllers"):
            if not isinstance(document.get(name, {}), dict):
                raise AddressError(f"{origin}: '{name}' must map site → URL")
        return cls(
            units=document["units"],
            etcd=document.get("etcd", {}),
            controllers=document.get("controllers", {}),
        )

    @classmethod
    def from_file(cls, path: Path) -> SiteAddresses:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise AddressError(f"{path}: cannot read address map: {exc}") from exc


class SiteProcessSettings(Protocol):
    """What the observer's and the controller's settings share."""

    @property
    def site(self) -> str: ...
    @property
    def topology(self) -> Path | None: ...
    @property
    def etcd_endpoints(self) -> tuple[str, ...]: ...
    @property
    def addresses(self) -> Path | None: ...
    @property
    def addresses_json(self) -> str | None: ...


def load_site_settings(settings: SiteProcessSettings) -> tuple[Topology, SiteAddresses]:
    """The topology and the other sites' addresses for a per-site process (observer or
    controller). Raises ``TopologyError``/``AddressError``/``ValueError`` on bad settings."""
    topology = load_topology(settings.topology) if settings.topology else default_topology()
    if settings.addresses_json:
        addresses = SiteAddresses.from_json(settings.addresses_json, "WATERTIGHT_ADDRESSES_JSON")
    elif settings.addresses is not None:
        addresses = SiteAddresses.from_file(settings.addresses)
    else:
        raise ValueError("set WATERTIGHT_ADDRESSES (file) or WATERTIGHT_ADDRESSES_JSON")
    if settings.site not in topology.site_names:
        raise ValueError(f"WATERTIGHT_SITE={settings.site!r} is not a site of the topology")
    if not settings.etcd_endpoints:
        raise ValueError("WATERTIGHT_ETCD_ENDPOINTS is required")
    return topology, addresses
