"""The probe lane: ``GET /v1/unit`` is answered without FastAPI, with the route's own
answer; anything else reaches the full application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lane_helpers import FullApplication, get, post
from unit_app_helpers import settings_for, unit_client

from app.errors import UnavailableError
from app.main import unit_api
from app.probe_lane import PATH, ProbeLane
from app.service import UnitService


def without_clock(body: dict[str, Any]) -> dict[str, Any]:
    """``/v1/unit`` less ``traffic.at`` (the time of the answer)."""
    return {**body, "traffic": {k: v for k, v in body["traffic"].items() if k != "at"}}


def test_the_lane_answers_what_the_fastapi_route_answers(primary_service: UnitService) -> None:
    full = FullApplication()
    status, headers, body = get(ProbeLane(full, service=primary_service), PATH)
    routed = unit_api()
    routed.state.service = primary_service
    with TestClient(routed) as client:
        expected = client.get(PATH)
    assert full.bodies == []
    assert status == expected.status_code == 200
    assert headers["content-type"] == expected.headers["content-type"]
    assert without_clock(body) == without_clock(expected.json())
    assert body["role"] == "primary" and "standbys" in body


def test_other_requests_reach_the_full_application(primary_service: UnitService) -> None:
    full = FullApplication()
    lane = ProbeLane(full, service=primary_service)
    assert get(lane, "/v1/unit/")[0] == 599
    assert get(lane, "/healthz")[0] == 599
    assert post(lane, PATH, b"{}", [])[0] == 599


def test_a_unit_error_is_answered_in_the_error_shape(
    primary_service: UnitService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_: object) -> dict[str, Any]:
        raise UnavailableError("the journal cannot be read")

    monkeypatch.setattr(primary_service.queries, "unit", unavailable)
    status, _, body = get(ProbeLane(FullApplication(), service=primary_service), PATH)
    assert status == 503
    assert body == {"error": "unavailable", "detail": "the journal cannot be read"}


def test_the_served_app_counts_the_lanes_probes_under_the_routes_label(tmp_path: Path) -> None:
    with unit_client(settings_for(tmp_path)) as client:
        assert client.get(PATH).json()["role"] == "standby"
        metrics = client.get("/metrics").text
    counted = [line for line in metrics.splitlines() if 'route="/v1/unit"' in line]
    assert any("requests_total" in line and line.endswith(" 1.0") for line in counted), counted
