"""The local platform's state file (``<state>/platform.json``) and fault journal.

``platform.json`` holds everything needed to find, restart and fault the running
processes after the CLI that started them has exited: each process's command line and
environment, its site, its readiness URL, and the public endpoints. ``down`` keeps it,
marked stopped, so that the next ``up`` restarts the same platform on its data
(infra/local/run_record.py). ``faults.jsonl`` gets one line per fault action with
wall-clock and monotonic timestamps; drills read it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.local.supervisor import ProcessSpec

STATE_FILE = "platform.json"
CREDENTIALS_DIR = "credentials"
"""The state directory's credentials directory (mode 0700, files 0600)."""
APPROVERS = ("alice", "bob")
"""The local platform's approvers: two, so ``policy.distinct_approvers: 2`` can be tried."""
FAULT_JOURNAL = "faults.jsonl"
EDGE = "edge"
"""The pseudo-site of the router: the GSLB/DNS layer in front of every data center."""


class PlatformError(RuntimeError):
    """A platform operation failed or was refused; the message says what to do."""


@dataclass
class ProcessRecord:
    """A started process as persisted: enough to restart it identically."""

    name: str
    argv: list[str]
    env: dict[str, str]
    site: str | None
    ready_url: str | None
    kind: str
    unit: str | None = None

    def spec(self, **env_overrides: str) -> ProcessSpec:
        return ProcessSpec(
            self.name, self.argv, {**self.env, **env_overrides}, self.site, self.ready_url
        )


@dataclass
class PlatformState:
    """What ``up`` started. ``controller_urls`` stays empty until controllers exist."""

    state_dir: str
    topology_file: str
    topology_name: str
    sites: list[str]
    router_url: str
    proxy_control_url: str
    etcd_client_urls: dict[str, str]
    credentials_dir: str
    """Per-role credentials (failover/credentials.py), made by ``up`` and kept across runs."""
    tls_dir: str = ""
    """The platform's own CA and one TLS directory per identity (``up --tls``:
    infra/local/certificates.py), kept across runs; empty when it runs without TLS."""
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    controller_urls: list[str] = field(default_factory=list)
    etcd_removed: list[str] = field(default_factory=list)
    """Sites whose etcd members a declared disaster removed: their old data must never
    start again; ``site-up`` rejoins them as new members (infra/local/quorum_recovery.py)."""
    etcd_peer_urls: dict[str, list[str]] = field(default_factory=dict)
    """Site → every peer URL etcd's membership may name for its member: one, or the old
    and the new while a restart moves them (infra/local/etcd_restart.py)."""
    started_at: float = field(default_factory=time.time)
    stopped_at: float | None = None
    """When ``down`` stopped this platform; None while it is meant to be running."""

    def save(self, directory: Path) -> None:
        temporary = directory / f"{STATE_FILE}.tmp"
        temporary.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        temporary.replace(directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> PlatformState:
        path = directory / STATE_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PlatformError(
                f"nothing is running from {directory} (no {STATE_FILE}); start it with "
                "`watertight up`"
            ) from exc
        except (OSError, ValueError) as exc:
            raise PlatformError(f"{path}: unreadable platform state: {exc}") from exc
        processes = {n: ProcessRecord(**p) for n, p in data.pop("processes", {}).items()}
        # A state written before per-role credentials named one shared token file.
        data.pop("token_file", None)
        data.setdefault("credentials_dir", str(directory / CREDENTIALS_DIR))
        return cls(**data, processes=processes)

    def site_processes(self, site: str) -> list[ProcessRecord]:
        return [p for p in self.processes.values() if p.site == site]


def record_fault(directory: Path, action: str, **details: object) -> dict[str, object]:
    """Append one fault to the journal and return the entry."""
    entry: dict[str, object] = {
        "at": time.time(),
        "monotonic": time.monotonic(),
        "action": action,
        **details,
    }
    with (directory / FAULT_JOURNAL).open("a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())
    return entry


def read_faults(directory: Path) -> list[dict[str, Any]]:
    """Every journal entry, oldest first (empty if none)."""
    path = directory / FAULT_JOURNAL
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
