"""Start the link proxy process and drive it: the platform's side of the control API.

``start_link_proxy(supervisor, sites)`` starts ``linkproxy_main`` (process name
``linkproxy``), waits until its control API answers and returns a
:class:`LinkProxyClient`. The token lives in a file with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from infra.local.linkproxy_modes import LinkMode
from infra.local.supervisor import ProcessSpec, Supervisor

PROCESS_NAME = "linkproxy"


class LinkProxyError(RuntimeError):
    """The proxy could not be started or refused a control call (message says why)."""


class LinkProxyClient:
    """Synchronous client of the control API (see :mod:`infra.local.linkproxy_control`)."""

    def __init__(self, control_url: str, token: str, timeout: float = 5.0) -> None:
        self.control_url = control_url
        self._http = httpx.Client(
            base_url=control_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            answer = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise LinkProxyError(f"link proxy at {self.control_url} unreachable: {exc}") from exc
        if answer.status_code >= 400:
            raise LinkProxyError(f"link proxy refused {method} {path}: {answer.text}")
        return answer.json()

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def listener_for(
        self, src_site: str, dst_site: str, dst_host: str, dst_port: int
    ) -> tuple[str, int]:
        """Address a client in ``src_site`` dials to reach ``dst_host:dst_port`` (in
        ``dst_site``); the destination itself when both sites are the same."""
        body = {"src": src_site, "dst": dst_site, "dst_host": dst_host, "dst_port": dst_port}
        answer = self._call("POST", "/v1/listeners", body)
        return str(answer["host"]), int(answer["port"])

    def peer_ingress(self, dst_site: str, dst_host: str, dst_port: int) -> tuple[str, int]:
        """Address the other etcd members dial to reach ``dst_site``'s peer port."""
        body = {"dst": dst_site, "dst_host": dst_host, "dst_port": dst_port}
        answer = self._call("POST", "/v1/peer-ingress", body)
        return str(answer["host"]), int(answer["port"])

    def set_peer_ids(self, ids: Mapping[str, str]) -> None:
        """etcd member id (hex) → site; call once the cluster has formed."""
        self._call("PUT", "/v1/peer-ids", dict(ids))

    def set_mode(self, a: str, b: str, mode: LinkMode) -> None:
        self._call("PUT", f"/v1/links/{a}/{b}", mode.model_dump())

    def set_site_links(self, site: str, mode: LinkMode) -> None:
        self._call("PUT", f"/v1/sites/{site}/links", mode.model_dump())

    def set_base_delay(self, a: str, b: str, ms: float) -> None:
        """Standing one-way delay of the ``a``–``b`` link (distance, not a fault: ``heal``
        and every mode keep it; ``latency`` adds on top)."""
        self._call("PUT", f"/v1/links/{a}/{b}/base-delay", {"base_delay_ms": ms})

    def heal(self) -> None:
        """Every link's mode back to ``pass``; base delays stay."""
        self._call("POST", "/v1/heal")

    def links(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/v1/links")
        return result

    def close(self) -> None:
        self._http.close()


def ensure_token_file(path: Path) -> str:
    """Read the token at ``path``, creating it (mode 0600) if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="utf-8").strip()


def start_link_proxy(
    supervisor: Supervisor,
    sites: Sequence[str],
    *,
    token_file: Path | None = None,
    timeout: float = 20.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LinkProxyClient:
    """Start the proxy process and return a client once its control API answers.

    On failure the process is stopped before :class:`LinkProxyError` is raised.
    """
    token_path = token_file or supervisor.state_dir / "linkproxy.token"
    token = ensure_token_file(token_path)
    ready_file = supervisor.state_dir / "linkproxy.ready.json"
    ready_file.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "infra.local.linkproxy_main",
        f"--sites={','.join(sites)}",
        f"--token-file={token_path}",
        f"--ready-file={ready_file}",
    ]  # fmt: skip
    supervisor.start(ProcessSpec(PROCESS_NAME, argv))
    try:
        return _wait_ready(supervisor, ready_file, token, timeout=timeout, clock=clock, sleep=sleep)
    except BaseException:
        supervisor.stop(PROCESS_NAME)
        raise


def _wait_ready(
    supervisor: Supervisor,
    ready_file: Path,
    token: str,
    *,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> LinkProxyClient:
    deadline = clock() + timeout
    while clock() < deadline:
        if not supervisor.alive(PROCESS_NAME):
            raise LinkProxyError(
                f"link proxy exited at start; see {supervisor.log_path(PROCESS_NAME)}"
            )
        if ready_file.exists():
            client = LinkProxyClient(json.loads(ready_file.read_text())["control_url"], token)
            if client.healthy():
                return client
            client.close()
        sleep(0.1)
    raise LinkProxyError(
        f"link proxy not ready after {timeout:g} s; see {supervisor.log_path(PROCESS_NAME)}"
    )
