"""The docker platform's record, ``<state>/docker-platform.json``: what ``up`` created and
where each container answers. ``status``, ``fault`` and ``down`` start from it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "docker-platform.json"


class DockerPlatformError(RuntimeError):
    """The docker platform could not do what was asked; the message says why and what to do."""


@dataclass
class ContainerRecord:
    """One container: where it is and how its readiness probe is run."""

    name: str
    site: str
    pod: str
    component: str
    unit: str | None
    address: str
    """On its site's network: how this host reaches it."""
    wan_address: str
    ready_url: str | None = None
    """The readiness probe's URL (an HTTP probe), from this host."""
    ready_command: list[str] = field(default_factory=list)
    """The readiness probe's command (an exec probe), run in the container."""
    ready_timeout: float = 1.0
    options: list[str] = field(default_factory=list)
    """Its ``docker create`` options; with ``image`` and ``command`` the container can be
    made again (``DockerPlatform.recreate``), as a cluster recreates an edited pod."""
    image: str = ""
    command: list[str] = field(default_factory=list)
    """What follows the image: the rendered args (and command, less the entrypoint)."""


@dataclass
class DockerState:
    """What ``up`` created."""

    platform_id: str
    state_dir: str
    topology_file: str
    image: str
    sites: list[str]
    wan_blocks: dict[str, str] = field(default_factory=dict)
    """Site → the /24 of the WAN network its containers' addresses lie in."""
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    router_urls: dict[str, str] = field(default_factory=dict)
    controller_urls: dict[str, str] = field(default_factory=dict)
    etcd_client_urls: dict[str, str] = field(default_factory=dict)
    credentials_dir: str = ""
    gateways: dict[str, str] = field(default_factory=dict)
    """Site → its WAN gateway's address (infra/docker/wan_gateways.py)."""
    gateway_token_file: str = ""
    etcd_removed: list[str] = field(default_factory=list)
    """Sites whose etcd members a declared disaster removed: their old data must never
    start again; ``site-up`` rejoins them as new members (infra/docker/quorum.py)."""

    def site_containers(self, site: str) -> list[ContainerRecord]:
        return [c for c in self.containers.values() if c.site == site]

    def save(self) -> None:
        path = Path(self.state_dir) / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        temporary.replace(path)

    @classmethod
    def load(cls, state_dir: Path) -> DockerState:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise DockerPlatformError(
                f"no docker platform was started from {state_dir} (no {STATE_FILE}); "
                "start one with `watertight up --platform docker`"
            ) from exc
        except (OSError, ValueError) as exc:
            raise DockerPlatformError(f"{path}: unreadable platform record: {exc}") from exc
        containers = {k: ContainerRecord(**v) for k, v in data.pop("containers").items()}
        return cls(**data, containers=containers)


def is_docker_platform(state_dir: Path) -> bool:
    """Whether ``state_dir`` holds a docker platform's record."""
    return (state_dir / STATE_FILE).is_file()
