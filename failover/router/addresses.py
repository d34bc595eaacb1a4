"""Where each unit instance is reachable from the router: ``(unit, site) -> base URL``.

On the local platform the URLs point at the link proxy for the edge→site path; in
Kubernetes they follow a template over Service names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class AddressMapError(ValueError):
    """The address map is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class AddressMap:
    """Base URLs of unit instances. Either an explicit table or a ``{unit}``/``{site}`` template."""

    table: Mapping[str, Mapping[str, str]]
    template: str | None = None

    def url(self, unit: str, site: str) -> str:
        """Base URL (no trailing slash) of ``unit`` in ``site``; KeyError if unknown."""
        if site in self.table.get(unit, {}):
            return self.table[unit][site].rstrip("/")
        if self.template is not None:
            return self.template.format(unit=unit, site=site).rstrip("/")
        raise KeyError(f"no address for unit {unit} in site {site}")

    @classmethod
    def from_file(cls, path: Path) -> AddressMap:
        """Read ``{"units": {"u00": {"production": "http://..."}}, "template": null}``."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AddressMapError(f"{path}: cannot read address map: {exc}") from exc
        units = document.get("units", {}) if isinstance(document, dict) else None
        if not isinstance(units, dict):
            raise AddressMapError(f"{path}: 'units' must map unit → site → URL")
        for unit, sites in units.items():
            if not isinstance(sites, dict) or not all(
                isinstance(u, str) and u.startswith("http") for u in sites.values()
            ):
                raise AddressMapError(f"{path}: units.{unit}: must map site → http(s) URL")
        template = document.get("template")
        return cls(table=units, template=template if isinstance(template, str) else None)
