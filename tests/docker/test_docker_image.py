"""The project image builds offline on a local base, runs as non-root, and serves /readyz.

Needs a Docker engine: skipped with a reason where none answers (CI installs and starts
one in ``.ci/run``, where a skip is a failure). The base image comes from debootstrap
(docs/design.md §7) and is cached, so only the first run pays for it.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from infra.docker.platform import DEFAULT_IMAGE
from infra.docker_image import docker_binary, engine_answers, ensure_image

# The first run debootstraps the base image and builds wheels: far beyond the suite's
# default 300 s per test on a busy 2-core machine.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]

TAG = DEFAULT_IMAGE
"""The docker platform's image: built once (again only when the sources change) for both."""
READY_WITHIN_SECONDS = 60


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_binary(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def image() -> str:
    if not engine_answers():
        pytest.skip("no Docker engine answers `docker version` (install docker.io, start dockerd)")
    return ensure_image(TAG)


@pytest.fixture
def unit_container(image: str) -> Iterator[str]:
    name = f"watertight-test-{uuid.uuid4().hex[:8]}"
    started = docker(
        "run", "-d", "--name", name, "-p", "127.0.0.1::8100",
        "-e", "WATERTIGHT_UNIT=u01", "-e", "WATERTIGHT_SITE=remote-dr",
        "-e", "WATERTIGHT_ROLE=standby", "-e", "WATERTIGHT_TOKEN=docker-test-token-0123456789",
        image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        docker("rm", "-f", name)


def test_the_image_runs_as_a_non_root_user(image: str) -> None:
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    uid = docker("run", "--rm", image, "id", "-u")
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.strip() == "10001"


def test_the_final_stage_has_no_build_tools_but_has_etcd(image: str) -> None:
    tools = docker("run", "--rm", image, "sh", "-c", "command -v pip pip3 gcc cc make || true")
    assert tools.stdout.strip() == ""
    etcd = docker("run", "--rm", image, "etcd", "--version")
    assert etcd.returncode == 0, etcd.stderr
    assert "etcd Version: 3.5" in etcd.stdout


def test_the_unit_service_in_the_image_answers_readyz(unit_container: str) -> None:
    port = docker("port", unit_container, "8100/tcp").stdout.strip().rsplit(":", 1)[-1]
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if response.status_code == 200:
                assert response.json()["role"] == "standby"
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    logs = docker("logs", unit_container)
    pytest.fail(f"/readyz never answered 200 (last: {last}); logs:\n{logs.stdout}{logs.stderr}")
