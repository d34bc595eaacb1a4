"""The TLS probe (``files/tls_probe.py``) against a real etcd started with the chart's flags.

The etcd member is started with exactly the TLS arguments the chart renders for it
(``ci/tls-values.yaml``), only its paths and ports moved to this machine; the probe runs
exactly as the readiness probe's ``exec`` command says, with this repository's Python.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import CHART, Helm, render

from infra.local.certificates import issue_local_pki
from infra.local.etcd_cluster import find_etcd_binary
from infra.local.ports import free_ports

TLS_DIR = "/etc/watertight/tls"
SCRIPT = CHART / "files" / "tls_probe.py"
START_SECONDS = 30.0


def etcd_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (statefulset,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = container
    return found


def moved(args: list[str], tls_dir: Path, data: Path, client: int, peer: int) -> list[str]:
    """The chart's etcd arguments with its paths and ports moved onto this machine."""
    out = []
    for arg in args:
        local = arg.replace(TLS_DIR, str(tls_dir)).replace("/var/lib/etcd", str(data))
        local = re.sub(r"https://[^,=]+:2379\b", f"https://127.0.0.1:{client}", local)
        out.append(re.sub(r"https://[^,=]+:2380\b", f"https://127.0.0.1:{peer}", local))
    return out


def run_probe(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


class Member:
    """A running etcd member and the probe command the chart would run against it."""

    def __init__(self, pki: Path, client: int, probe: list[str]) -> None:
        self.pki, self.client, self.probe = pki, client, probe

    def probe_with(self, tls_dir: Path, path: str = "/health") -> list[str]:
        return [self.probe[0], self.probe[1], str(tls_dir), str(self.client), path]


@pytest.fixture(scope="module")
def member(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    root = tmp_path_factory.mktemp("etcd-tls")
    pki = issue_local_pki(root / "pki", ["production"])["production"]
    container = etcd_container(render(helm, ["-f", str(CHART / "ci" / "tls-values.yaml")]))
    client, peer = free_ports(2)
    args = moved(container["args"], pki, root / "data", client, peer)
    # The readiness probe's exec command, with the script and directory moved likewise.
    command = container["readinessProbe"]["exec"]["command"]
    assert command[1:] == ["/etc/watertight/tls_probe.py", TLS_DIR, "2379", "/health"]
    probe = [sys.executable, str(SCRIPT), str(pki), str(client), "/health"]
    log = (root / "etcd.log").open("w")
    process = subprocess.Popen([str(find_etcd_binary()), *args], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while run_probe(probe).returncode != 0:
            assert process.poll() is None, (root / "etcd.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (root / "etcd.log").read_text()[-3000:]
            time.sleep(0.2)
        yield Member(pki, client, probe)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_the_charts_readiness_probe_passes_against_etcd_started_with_the_charts_tls_flags(
    member: Member,
) -> None:
    done = run_probe(member.probe)
    assert (done.returncode, done.stderr) == (0, "")


def test_that_etcd_refuses_a_client_without_a_certificate_which_is_why_httpget_cannot_probe_it(
    member: Member,
) -> None:
    # What the kubelet's httpGet would do (it presents no client certificate).
    context = ssl.create_default_context(cafile=str(member.pki / "ca.crt"))
    context.check_hostname = False
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        urllib.request.urlopen(f"https://127.0.0.1:{member.client}/health", context=context)


def test_the_probe_fails_with_a_certificate_from_another_ca(member: Member, tmp_path: Path) -> None:
    stranger = issue_local_pki(tmp_path, ["stranger"])["stranger"]
    done = run_probe(member.probe_with(stranger))
    assert done.returncode == 1
    assert done.stderr.startswith("FAIL: GET https://127.0.0.1:")


def test_the_probe_fails_saying_what_the_listener_answered(member: Member) -> None:
    done = run_probe(member.probe_with(member.pki, "/no-such-path"))
    assert done.returncode == 1
    assert "/no-such-path answered 404" in done.stderr


def test_the_probe_names_the_missing_file_of_an_incomplete_tls_directory(
    member: Member, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_bytes((member.pki / "ca.crt").read_bytes())
    done = run_probe(member.probe_with(tmp_path))
    assert done.returncode == 1
    assert "tls.crt is missing" in done.stderr


def test_the_probe_refuses_arguments_it_cannot_use() -> None:
    done = run_probe([sys.executable, str(SCRIPT), "/tmp", "not-a-port", "/health"])
    assert done.returncode == 2
    assert "usage: tls_probe.py TLS_DIR PORT PATH" in done.stderr
