"""The console's routes on the controller API (harness world: in-memory etcd, fake units)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from harness import World

from failover.controller.api import create_app


@pytest.fixture
def client(world: World) -> TestClient:
    world.cycle()
    world.cycle()
    return TestClient(create_app(world.runtime))


def test_the_console_page_is_served_whole_with_no_asset_from_another_host(
    client: TestClient,
) -> None:
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/v1/console/stream" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page.text


def test_the_console_view_names_the_leader_and_every_unit_with_its_route(
    client: TestClient, world: World
) -> None:
    view = client.get("/v1/console").json()
    assert view["controller"] == view["leader"] == world.runtime.site
    assert view["is_leader"] is True
    assert {u["name"]: u["primary_site"] for u in view["units"]}["u00"] == "production"
    assert {s["name"]: s["state"] for s in view["sites"]} == {
        "production": "up", "same-city": "up", "remote-dr": "up"
    }  # fmt: skip


def test_the_stream_is_server_sent_events_and_its_first_view_is_the_console_view(
    client: TestClient,
) -> None:
    with client.stream("GET", "/v1/console/stream") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == ""
        assert next(lines) == "event: view"
        data = next(lines)
    assert data.startswith("data: ")
    view = json.loads(data.removeprefix("data: "))
    assert {"sites", "units", "timeline", "approvals"} <= set(view)
    assert any(e["kind"] == "leader" for e in view["timeline"])


def test_neither_the_page_nor_the_stream_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/console" in paths
    assert "/console" not in paths and "/v1/console/stream" not in paths
