"""Settings of a controller process (``python -m failover.controller``), from ``WATERTIGHT_*``.

The controller reads exactly these fields and ``WATERTIGHT_LOG_FORMAT`` (:data:`ENV_CONTRACT`)
and refuses to start with any other ``WATERTIGHT_*`` variable (failover/env_contract.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from failover.credentials import Credentials, CredentialsError, Role
from failover.env_contract import EnvContract
from failover.log_format import LOG_FORMAT_VARIABLE
from failover.tls import ENV as TLS_ENV
from failover.tls import from_env as tls_files
from failover.tls import scheme

CONTROLLER_ROLES = (Role.ADMIN, Role.OPERATOR, Role.APPROVER)
"""A controller presents ``admin`` to the units and verifies the other two."""


class ControllerSettings(BaseSettings):
    """One site's controller; its observer is a process of its own (failover.observer)."""

    # pydantic-settings never treats an unknown environment variable as extra, not even
    # with extra="forbid": ENV_CONTRACT's check at start refuses those instead.
    model_config = SettingsConfigDict(env_prefix="WATERTIGHT_", extra="ignore", frozen=True)

    site: str
    """The site this controller and its observer run in."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8500
    topology: Path | None = None
    """Topology file; without it the built-in default topology is used."""
    etcd_endpoints: tuple[str, ...] = ()
    """etcd client URLs as reachable from this site (own member first)."""
    addresses: Path | None = None
    """JSON address map as reachable from this site (:mod:`failover.observer.addresses`)."""
    addresses_json: str | None = None
    """The same map inline (wins over ``addresses``)."""
    credentials_dir: Path | None = None
    """Credentials directory (failover/credentials.py): this controller presents ``admin``
    to the units and verifies ``operator`` and ``approvers``."""
    token: str | None = None
    token_file: Path | None = None
    """Development shortcut: one token for every role (docs/security.md); not with
    ``credentials_dir``."""
    records_url: str | None = None
    """SQLAlchemy URL of the records store; default ``sqlite:///<state_dir>/records-<site>.db``."""
    state_dir: Path = Path(".")
    public_url: str | None = None
    """How clients reach this controller (default ``http://host:port``)."""
    log_level: str = "INFO"

    def credentials(self) -> Credentials:
        """The ``admin``, ``operator`` and ``approvers`` files of ``credentials_dir``, or
        the shared development token. Raises :class:`CredentialsError` (a ``ValueError``)."""
        shared = self.token is not None or self.token_file is not None
        if self.credentials_dir is not None:
            if shared:
                raise CredentialsError(
                    "give WATERTIGHT_CREDENTIALS_DIR or a shared token, not both"
                )
            return Credentials.from_directory(self.credentials_dir, CONTROLLER_ROLES)
        if self.token:
            return Credentials.shared(self.token)
        if self.token_file is not None:
            return Credentials.shared(self.token_file.read_text(encoding="utf-8"))
        raise CredentialsError("set WATERTIGHT_CREDENTIALS_DIR (or the WATERTIGHT_TOKEN shortcut)")

    def records_database_url(self) -> str:
        if self.records_url:
            return self.records_url
        return f"sqlite:///{(self.state_dir / f'records-{self.site}.db').resolve()}"

    def own_url(self) -> str:
        return self.public_url or f"{scheme(tls_files() is not None)}://{self.host}:{self.port}"


ENV_CONTRACT = EnvContract(
    "python -m failover.controller",
    ControllerSettings,
    also_reads=frozenset({LOG_FORMAT_VARIABLE, TLS_ENV}),
    needs_one_of=(
        frozenset({"WATERTIGHT_ETCD_ENDPOINTS"}),
        frozenset({"WATERTIGHT_ADDRESSES", "WATERTIGHT_ADDRESSES_JSON"}),
        frozenset({"WATERTIGHT_CREDENTIALS_DIR", "WATERTIGHT_TOKEN", "WATERTIGHT_TOKEN_FILE"}),
    ),
)
"""What the controller reads from the environment (the fields above and the log format) and what it
refuses to start without: etcd, the site's address map and its credentials."""
