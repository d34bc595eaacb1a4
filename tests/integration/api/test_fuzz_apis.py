"""Schemathesis, every check on, against the three HTTP services with their published
OpenAPI documents (docs/api/): no answer is a 5xx and none breaks the document (status,
content type, headers, body schema, negative data refused, positive data accepted, auth
not ignored), with and without the bearer token.

Real components: the router and the controllers are the local platform's (``watertight
up``: real etcd, real unit instances on SQLite, the real router); the controller fuzzed is
the leader, since a non-leader answers every move 503 ``not_leader`` by design. The unit
service runs in this process under uvicorn (lifespan on, as in production) on SQLite files
in tmp_path, promoted to a primary without standbys: fuzzing a platform instance's role
endpoints with the token would demote the primaries the router is fuzzed through.

Bounded by fuzz_helpers.EXAMPLES_PER_OPERATION: ~2.5 min on a busy 2-core machine (the
platform starts in ~35 s), hence ``slow``: CI runs it (``make test-all``), ``make test`` not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fuzz_helpers import Fuzzed, fuzz

from app.lease import NoLease
from app.main import create_app
from app.settings import UnitSettings
from failover.credentials import Role, read_token
from tests.serving import serving

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from platform_helpers import RunningPlatform, platform_for_module

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNIT_TOKEN = "fuzz-token"


def clean(fuzzed: Fuzzed) -> None:
    assert (fuzzed.server_errors, fuzzed.schema_violations) == (0, 0), (
        f"{fuzzed}\n{fuzzed.failures}\n{fuzzed.report()}"
    )
    assert fuzzed.generated > 0


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    yield from platform_for_module(tmp_path_factory)


@pytest.fixture(scope="module")
def unit_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = UnitSettings(
        unit="u00",
        site="production",
        data_dir=tmp_path_factory.mktemp("unit"),
        token=UNIT_TOKEN,
        role="standby",
        epoch=1,
    )
    with serving(create_app(settings, NoLease())) as url:
        body = {"role": "primary", "epoch": 2, "standbys": []}
        headers = {"Authorization": f"Bearer {UNIT_TOKEN}"}
        promoted = httpx.post(f"{url}/admin/role", json=body, headers=headers, timeout=10)
        assert promoted.status_code == 200, promoted.text
        yield url


def leader_url(platform: RunningPlatform) -> str:
    for url in platform.info["controller_urls"]:
        if httpx.get(f"{url}/v1/status", timeout=5).json().get("is_leader"):
            return str(url)
    raise AssertionError("no controller leads")


def token_of(platform: RunningPlatform) -> str:
    """The operator credential: approvals answer it 403 (they need an approver's), which the
    document declares."""
    return read_token(platform.state_dir / "credentials", Role.OPERATOR)


def test_the_unit_service_fuzzed_without_a_token_keeps_its_document(
    unit_url: str, tmp_path: Path
) -> None:
    clean(fuzz("unit-service", "unit-service.json", unit_url, tmp_path))


def test_the_unit_service_fuzzed_with_its_token_keeps_its_document(
    unit_url: str, tmp_path: Path
) -> None:
    clean(fuzz("unit-service+token", "unit-service.json", unit_url, tmp_path, UNIT_TOKEN))


def test_the_router_fuzzed_keeps_its_document(platform: RunningPlatform, tmp_path: Path) -> None:
    clean(fuzz("router", "router.json", platform.router_url, tmp_path))


def test_the_leading_controller_fuzzed_without_a_token_keeps_its_document(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    clean(fuzz("controller", "controller.json", leader_url(platform), tmp_path))


def test_the_leading_controller_fuzzed_with_its_token_keeps_its_document(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    url = leader_url(platform)
    clean(fuzz("controller+token", "controller.json", url, tmp_path, token_of(platform)))
