"""Settings of a router process (``python -m failover.router``), from ``WATERTIGHT_*``.

The router reads exactly these fields and ``WATERTIGHT_LOG_FORMAT`` (:data:`ENV_CONTRACT`) and
refuses to start with any other ``WATERTIGHT_*`` variable (failover/env_contract.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from failover.env_contract import EnvContract
from failover.log_format import LOG_FORMAT_VARIABLE
from failover.tls import ENV as TLS_ENV


class RouterSettings(BaseSettings):
    """Configuration of one router. Routes come from etcd; addresses from a map or template."""

    # pydantic-settings never treats an unknown environment variable as extra, not even
    # with extra="forbid": ENV_CONTRACT's check at start refuses those instead.
    model_config = SettingsConfigDict(env_prefix="WATERTIGHT_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    topology: Path | None = None
    """Topology file; without it the built-in default topology is used."""
    etcd_endpoints: tuple[str, ...] = ()
    """etcd client URLs as reachable from this router (through link proxies locally)."""
    address_map: Path | None = None
    """JSON file ``{"units": {unit: {site: url}}, "template": null}``."""
    unit_url_template: str | None = None
    """E.g. ``http://watertight-{unit}.watertight-{site}.svc:8100`` (Kubernetes)."""


ENV_CONTRACT = EnvContract(
    "python -m failover.router",
    RouterSettings,
    also_reads=frozenset({LOG_FORMAT_VARIABLE, TLS_ENV}),
    needs_one_of=(
        frozenset({"WATERTIGHT_ETCD_ENDPOINTS"}),
        frozenset({"WATERTIGHT_ADDRESS_MAP", "WATERTIGHT_UNIT_URL_TEMPLATE"}),
    ),
)
"""What the router reads from the environment (the fields above and the log format) and what it
refuses to start without: the routes' etcd and where the unit instances are."""
