"""Settings of one unit-service process (one unit in one site).

Every field reads from the environment with the ``WATERTIGHT_`` prefix (pydantic-settings),
e.g. ``WATERTIGHT_UNIT=u00 WATERTIGHT_SITE=production``; ``python -m app`` also takes
the same names as command-line options (``--unit u00 --site production``). The Helm chart
and the local platform set exactly these variables, and ``python -m app`` refuses to start
with any other ``WATERTIGHT_*`` name (:data:`ENV_CONTRACT`, failover/env_contract.py)
besides ``WATERTIGHT_LOG_FORMAT``, which the one log setup reads (failover/log_format.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from failover.credentials import Credentials, CredentialsError, Role
from failover.env_contract import EnvContract
from failover.log_format import LOG_FORMAT_VARIABLE
from failover.tls import ENV as TLS_ENV

InitialRole = Literal["primary", "standby", "fenced"]


class UnitSettings(BaseSettings):
    """Configuration of a unit instance. Contract: unit and site are required."""

    # pydantic-settings never treats an unknown environment variable as extra, not even
    # with extra="forbid": ENV_CONTRACT's check at start refuses those instead.
    model_config = SettingsConfigDict(env_prefix="WATERTIGHT_", extra="ignore", frozen=True)

    unit: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
    site: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8100
    database_url: str = ""
    """SQLAlchemy URL; empty means ``sqlite:///<data_dir>/<unit>-<site>.db`` (WAL mode)."""
    data_dir: Path = Path("data")
    topology: Path | None = None
    """Topology file; without it the built-in default topology (docs/design.md §1) is used."""
    credentials_dir: Path | None = None
    """Credentials directory (failover/credentials.py): this instance verifies the
    ``admin`` and ``replication`` files and presents ``replication`` to its peers."""
    token: SecretStr | None = None
    """Development shortcut: one token for every role (docs/security.md). Not with
    ``credentials_dir``; prefer ``token_file`` (mode 0600) to the value itself."""
    token_file: Path | None = None
    role: InitialRole = "standby"
    """Role at start. A restarted former primary must come back ``standby`` or ``fenced``."""
    epoch: Annotated[int, Field(ge=0)] = 0
    peers: dict[str, str] = Field(default_factory=dict)
    """How to reach this unit's instance in each other site: ``{"same-city": "http://..."}``.
    From the environment: ``WATERTIGHT_PEERS='{"same-city": "http://127.0.0.1:8201"}'``."""
    standbys: tuple[str, ...] | None = None
    """Sites this instance ships its journal to while primary (default: every other site
    of the topology). A write is acknowledged per the topology's ``commit_rule``."""
    etcd_endpoints: tuple[str, ...] = ()
    """When set, a primary holds its lease in etcd and fences itself when keepalive fails."""
    credit_limit_minor: Annotated[int, Field(ge=0, le=10**15)] = 5_000_000
    """Credit limit an account opens with (minor units); recorded per account at opening."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _no_blank_url(cls, value: str) -> str:
        return value.strip()

    def resolved_database_url(self) -> str:
        """The database URL to use, defaulting to a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / f'{self.unit}-{self.site}.db'}"

    def credentials(self) -> Credentials:
        """What this instance verifies and presents: the ``admin`` and ``replication``
        files of ``credentials_dir``, else the shared development token, else nothing
        (every admin and replication call refused). Raises :class:`CredentialsError`."""
        if self.credentials_dir is not None:
            if self.token is not None or self.token_file is not None:
                raise CredentialsError(
                    "give WATERTIGHT_CREDENTIALS_DIR or a shared token, not both"
                )
            return Credentials.from_directory(self.credentials_dir, (Role.ADMIN, Role.REPLICATION))
        if self.token is not None:
            return Credentials.shared(self.token.get_secret_value())
        if self.token_file is not None:
            return Credentials.shared(self.token_file.read_text(encoding="utf-8"))
        return Credentials.none()


ENV_CONTRACT = EnvContract(
    "python -m app", UnitSettings, also_reads=frozenset({LOG_FORMAT_VARIABLE, TLS_ENV})
)
"""What the unit service reads from the environment: the fields above and the log format."""
