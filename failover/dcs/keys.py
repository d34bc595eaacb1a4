"""The key layout under ``/watertight/<topology name>/`` (documented in ``docs/dcs.md``).

| key | value | lease |
|---|---|---|
| ``routes/<unit>`` | ``{"epoch": n, "site": s}`` | none (the controller owns it) |
| ``leases/primary/<unit>`` | ``{"epoch": n, "site": s}`` | the primary's lease |
| ``leader`` | ``{"id": ..., "site": s}`` | the controller leader's lease |
| ``observers/<site>`` | the observer's latest verdicts (JSON) | the observer's lease |
| ``approvals/<id>`` | an approval request or grant (JSON) | none |
| ``freeze`` | ``{"reason": ..., "by": ...}`` when frozen; absent otherwise | none |

JSON values are canonical (:func:`failover.dcs.codec.canonical_json`) so that a
transaction can compare them byte for byte. ``app/etcd_client.py`` builds the same
``leases/primary/<unit>`` and ``routes/<unit>`` keys (it may not import this module).
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "/watertight"


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key of one topology. ``Keys("watertight").route("u00")`` →
    ``/watertight/watertight/routes/u00``."""

    topology: str

    @property
    def root(self) -> str:
        return f"{ROOT}/{self.topology}/"

    @property
    def routes_prefix(self) -> str:
        return f"{self.root}routes/"

    def route(self, unit: str) -> str:
        return f"{self.routes_prefix}{unit}"

    @property
    def primary_leases_prefix(self) -> str:
        return f"{self.root}leases/primary/"

    def primary_lease(self, unit: str) -> str:
        return f"{self.primary_leases_prefix}{unit}"

    @property
    def leader(self) -> str:
        return f"{self.root}leader"

    @property
    def observers_prefix(self) -> str:
        return f"{self.root}observers/"

    def observer(self, site: str) -> str:
        return f"{self.observers_prefix}{site}"

    @property
    def approvals_prefix(self) -> str:
        return f"{self.root}approvals/"

    def approval(self, approval_id: str) -> str:
        return f"{self.approvals_prefix}{approval_id}"

    @property
    def freeze(self) -> str:
        return f"{self.root}freeze"

    def unit_of(self, key: str, prefix: str) -> str:
        """The last path element of ``key`` below ``prefix``."""
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {prefix!r}")
        return key[len(prefix) :]
