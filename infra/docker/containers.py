"""A :class:`ContainerPlan` as Docker objects: names, the files its ConfigMap and Secret
volumes hold, and the ``docker create`` arguments that give the container exactly what the
pod would get. Pure but for :func:`write_mounted_files`, which writes those files.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.docker.workloads import ContainerPlan

WAN = "wan"
LABEL = "io.watertight.platform"
"""Every container, network and volume the docker platform creates carries this label,
set to the platform's id: ``down`` removes by it, so nothing it created is left."""
ADDRESS_POOL = ipaddress.ip_network("10.208.0.0/12")
"""Where the platform's networks take their subnets from (one /20 each, 4,094 addresses)."""
SUBNET_PREFIX = 20
FIRST_HOST = 10
"""Addresses below ``.10`` of a subnet are left to the engine (its gateway is ``.1``)."""


def free_subnets(used: Iterable[str], count: int) -> list[str]:
    """``count`` subnets of :data:`ADDRESS_POOL` that overlap none of ``used``: every
    container gets a fixed address in them, so a stopped and restarted container comes
    back where its peers and the record expect it. Raises ``ValueError`` when the pool
    has no room."""
    taken = [ipaddress.ip_network(u, strict=False) for u in used if ":" not in u]
    found: list[str] = []
    for candidate in ADDRESS_POOL.subnets(new_prefix=SUBNET_PREFIX):
        if not any(candidate.overlaps(t) for t in taken):
            found.append(str(candidate))
            if len(found) == count:
                return found
    raise ValueError(f"no {count} free /{SUBNET_PREFIX} subnets left in {ADDRESS_POOL}")


SITE_BLOCK = 256
"""On the WAN network each site's containers take addresses in their own /24, so a
partition between two sites is one firewall rule each way (infra/docker/wan_filter.py)."""


def host_address(subnet: str, index: int, block: int = 0) -> str:
    """The fixed address of the ``index``-th container of ``block`` (a site's /24 on the
    WAN network; 0 on a site's own network) on ``subnet``."""
    network = ipaddress.ip_network(subnet)
    if FIRST_HOST + index >= SITE_BLOCK - 1 or (block + 1) * SITE_BLOCK > network.num_addresses:
        raise ValueError(f"{subnet} has no room for container {index} of block {block}")
    return str(network.network_address + block * SITE_BLOCK + FIRST_HOST + index)


def site_block(subnet: str, block: int) -> str:
    """The /24 of the WAN ``subnet`` that holds site number ``block``'s containers."""
    network = ipaddress.ip_network(subnet)
    return str(ipaddress.ip_network((int(network.network_address) + block * SITE_BLOCK, 24)))


@dataclass(frozen=True, slots=True)
class Names:
    """The names of one docker platform's objects, all prefixed ``wt-<platform id>-``."""

    platform_id: str

    @property
    def prefix(self) -> str:
        return f"wt-{self.platform_id}"

    def network(self, site: str) -> str:
        """A site's network, or the WAN network for :data:`WAN`."""
        return f"{self.prefix}-{site}"

    def container(self, plan: ContainerPlan) -> str:
        return f"{self.prefix}-{plan.site}-{plan.pod}"

    def volume(self, site: str, claim: str) -> str:
        return f"{self.prefix}-{site}-{claim}"

    def labels(self, site: str, **more: str | None) -> dict[str, str]:
        found = {LABEL: self.platform_id, "io.watertight.site": site}
        return found | {f"io.watertight.{k}": v for k, v in more.items() if v is not None}


def write_mounted_files(plan: ContainerPlan, root: Path) -> list[tuple[Path, str]]:
    """Write the plan's ConfigMap and Secret files under ``root`` and return (host
    directory, mount path) pairs. Files take the volume's mode; as root they are owned by
    the pod's user, which is what a kubelet's ``fsGroup`` gives them."""
    owner = _owner(plan.user) if os.geteuid() == 0 else None
    pairs: list[tuple[Path, str]] = []
    for index, mounted in enumerate(plan.mounted_files):
        directory = root / plan.site / plan.pod / str(index)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in mounted.files:
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            path.chmod(mounted.mode if owner else mounted.mode | 0o444)
            if owner:
                os.chown(path, *owner)
        pairs.append((directory, mounted.path))
    return pairs


def _owner(user: str | None) -> tuple[int, int] | None:
    if user is None:
        return None
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def create_arguments(
    plan: ContainerPlan,
    names: Names,
    address: str,
    files: Sequence[tuple[Path, str]],
    volumes: Mapping[str, str],
    hosts: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """``docker create`` arguments: the pod's command, environment, mounts, user and
    limits, attached at ``address`` to its site's network under its Services' names.
    ``volumes`` maps each claim to its Docker volume; ``hosts`` are (name, address)
    entries of the container's hosts file."""
    labels = names.labels(plan.site, component=plan.component, unit=plan.unit, pod=plan.pod)
    claims = [(volumes[claim], path) for claim, path in plan.volumes]
    options = [
        f"--name={names.container(plan)}",
        f"--hostname={plan.pod}",
        f"--network={names.network(plan.site)}",
        f"--ip={address}",
        *(f"--network-alias={alias}" for alias in plan.aliases),
        *(f"--add-host={name}:{host}" for name, host in hosts),
        *(f"--label={key}={value}" for key, value in labels.items()),
        # A pod's containers restart when they exit (restartPolicy Always); a container
        # stopped on purpose (site-down) stays stopped.
        "--restart=unless-stopped",
        # The pod's own probes judge it (a kubelet ignores an image's HEALTHCHECK).
        "--no-healthcheck",
        *(f"--env={name}={value}" for name, value in plan.env),
        *(f"--mount=type=bind,source={host},destination={path},readonly" for host, path in files),
        *(f"--mount=type=volume,source={volume},destination={path}" for volume, path in claims),
        *(f"--mount=type=tmpfs,destination={path},tmpfs-mode=1777" for path in plan.scratch),
    ]  # fmt: skip
    if plan.user:
        options.append(f"--user={plan.user}")
    if plan.read_only_root:
        options.append("--read-only")
    if plan.drop_all_capabilities:
        options.append("--cap-drop=ALL")
    if plan.no_new_privileges:
        options.append("--security-opt=no-new-privileges")
    if plan.cpus is not None:
        options.append(f"--cpus={plan.cpus:g}")
    if plan.memory_bytes is not None:
        options.append(f"--memory={plan.memory_bytes}")
    if plan.entrypoint_override:
        return [*options, f"--entrypoint={plan.argv[0]}", plan.image, *plan.argv[1:]]
    return [*options, plan.image, *plan.argv]
