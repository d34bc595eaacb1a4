"""Declaring a disaster on the docker platform, and taking a lost site's etcd member back:
docs/kubernetes.md's runbook for clusters, carried out on containers.

The etcd member runs from the chart's StatefulSet with ``--initial-cluster-state=new``,
so both steps are an edit of the member's args and a restart of its pod — here
``DockerPlatform.recreate``, the docker platform's ``kubectl edit``:

- ``declare(survivor)``: refused unless the quorum really is lost and every other
  member is stopped (infra/local/quorum_recovery.py ``disaster_refusal``, shared with
  the local platform). The survivor's member is recreated with ``--force-new-cluster``
  added, and, once it answers as a one-member cluster, with its rendered args again
  (its data dir now exists, so etcd ignores the bootstrap flags).
- ``rejoin(site)`` (``site-up`` of a site the disaster removed): its old data is set
  aside inside its volume (never started again: two old members are a majority of the
  old cluster and would serve the pre-disaster routes), it is added as a learner through
  a voting member, recreated with ``--initial-cluster-state=existing``, and promoted once
  it has caught up.
"""

from __future__ import annotations

import time

from infra.docker.platform import DockerPlatform
from infra.docker.readiness import wait_ready
from infra.docker.state import ContainerRecord, DockerPlatformError, DockerState
from infra.local.quorum_recovery import (
    FORCE_NEW_CLUSTER,
    MEMBER_READY_TIMEOUT_SECONDS,
    disaster_refusal,
    etcd_post,
    flag_value,
    has_quorum,
    initial_cluster,
    joining_argv,
    post_until_accepted,
)
from infra.local.state import PlatformError


class DockerQuorumRecovery:
    """Declares disasters and takes removed members back, on one docker platform."""

    def __init__(self, platform: DockerPlatform, state: DockerState) -> None:
        self.platform = platform
        self.state = state

    def _member(self, site: str) -> ContainerRecord:
        found = [c for c in self.state.site_containers(site) if c.component == "etcd"]
        if len(found) != 1:
            raise DockerPlatformError(f"site {site} has {len(found)} etcd members, not one")
        return found[0]

    def _running(self, record: ContainerRecord) -> bool:
        return self.platform.engine.status(record.name) == "running"

    def declare(self, survivor: str) -> list[str]:
        """Rebuild the quorum on ``survivor``; returns the sites whose members were
        removed. Saves the record. Raises :class:`DockerPlatformError`."""
        running = {s for s in self.state.sites if self._running(self._member(s))}
        url = self.state.etcd_client_urls.get(survivor, "")
        quorate = survivor in running and has_quorum(url)
        refusal = disaster_refusal(self.state.sites, survivor, running, quorate)
        if refusal:
            raise DockerPlatformError(f"cannot declare a disaster: {refusal}")
        member = self._member(survivor)
        rendered = list(member.command)
        forced = self.platform.recreate(member, [*rendered, FORCE_NEW_CLUSTER])
        wait_ready(self.platform.engine, [forced], MEMBER_READY_TIMEOUT_SECONDS)
        self._replace(self.platform.recreate(forced, rendered))
        wait_ready(self.platform.engine, [self._member(survivor)], MEMBER_READY_TIMEOUT_SECONDS)
        lost = sorted(set(self.state.sites) - {survivor})
        self.state.etcd_removed = sorted(set(self.state.etcd_removed) | set(lost))
        self.state.save()
        return lost

    def _replace(self, record: ContainerRecord) -> None:
        self.state.containers[record.name] = record

    def rejoin(self, site: str) -> None:
        """Start a removed site's member afresh as a learner and promote it once caught
        up (the site's other containers are the caller's). Saves the record."""
        member = self._member(site)
        peer_url = flag_value(member.command, "--initial-advertise-peer-urls")
        via = self._voting_member_url()
        try:
            self._remove_stale(via, peer_url)
            self._set_aside(member, flag_value(member.command, "--data-dir"))
            added = post_until_accepted(
                via, "/v3/cluster/member/add", {"peerURLs": [peer_url], "isLearner": True}
            )
            cluster = initial_cluster(added.get("members", []), site, peer_url)
            joined = self.platform.recreate(member, joining_argv(member.command, cluster))
            self._replace(joined)
            body = {"ID": str(int(added["member"]["ID"]))}
            post_until_accepted(via, "/v3/cluster/member/promote", body)
        except PlatformError as exc:
            raise DockerPlatformError(f"rejoining the etcd member of {site}: {exc}") from exc
        wait_ready(self.platform.engine, [joined], MEMBER_READY_TIMEOUT_SECONDS)
        self.state.etcd_removed = [s for s in self.state.etcd_removed if s != site]
        self.state.save()

    def _voting_member_url(self) -> str:
        for site in self.state.sites:
            if site not in self.state.etcd_removed and self._running(self._member(site)):
                return self.state.etcd_client_urls[site]
        raise DockerPlatformError(
            "no voting etcd member is running to take the member back; bring up the site "
            "the disaster was declared on first"
        )

    @staticmethod
    def _remove_stale(via: str, peer_url: str) -> None:
        """A rejoin that died half-way leaves a member entry with our peer URL: drop it."""
        for member in etcd_post(via, "/v3/cluster/member/list", {}).get("members", []):
            if peer_url in (member.get("peerURLs") or []):
                etcd_post(via, "/v3/cluster/member/remove", {"ID": member["ID"]})

    def _set_aside(self, member: ContainerRecord, data_dir: str) -> None:
        """Rename the old data dir inside the member's volume (kept for forensics)."""
        aside = f"{data_dir}.removed-{int(time.time())}"
        script = (
            "import os, sys\nif os.path.exists(sys.argv[1]): os.rename(sys.argv[1], sys.argv[2])"
        )
        volumes = [
            o.split("=", 1)[1] for o in member.options if o.startswith("--mount=type=volume")
        ]
        self.platform.engine.run_once(
            member.image, ["python", "-c", script, data_dir, aside],
            mounts=volumes, user=_option(member.options, "--user"),
        )  # fmt: skip


def _option(options: list[str], name: str) -> str | None:
    prefix = f"{name}="
    return next((o[len(prefix) :] for o in options if o.startswith(prefix)), None)
