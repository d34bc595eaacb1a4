"""Bad input at the router is answered there, in the error shape, and never forwarded:
malformed ids (422), bodies over the limit (413, by Content-Length or while a chunked body
streams), unknown paths and methods (404, 405), and anything unexpected (500)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from failover.body_limit import API_BODY_LIMIT
from failover.router.addresses import AddressMap
from failover.router.app import create_router_app
from failover.router.source import StaticRoutes
from failover.routing import Route, RoutingTable
from failover.topology import default_topology

TOPOLOGY = default_topology()
CUSTOMER = "c-0001"
UNIT = TOPOLOGY.unit_of(CUSTOMER)
WRITE = f"/v1/customers/{CUSTOMER}/transactions"
BODY = b'{"type":"purchase","amount_minor":5,"currency":"CNY"}'


class Recorder(BaseHTTPRequestHandler):
    """A unit instance that answers everything and remembers what reached it."""

    seen: list[tuple[str, str, dict[str, str], int]] = []

    def _answer(self, status: int) -> None:
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        Recorder.seen.append((self.command, self.path, headers, length))
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        self._answer(201)

    def do_GET(self) -> None:
        self._answer(200)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def unit_url() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def router(unit_url: str, routes: StaticRoutes | None = None) -> TestClient:
    addresses = AddressMap({UNIT: {"production": unit_url, "same-city": unit_url}})
    routes = routes or StaticRoutes([Route(UNIT, "production", 1)])
    app = create_router_app(TOPOLOGY, routes, addresses)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(unit_url: str) -> Iterator[TestClient]:
    with router(unit_url) as c:
        yield c


def assert_shape(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    return str(body["detail"])


@pytest.mark.parametrize("tid", ["%F2%9C%9C%85%0A", "a%0Ab", "x" * 65, "semi;colon", "%FF"])
def test_a_malformed_transaction_id_is_422_and_not_forwarded(client: TestClient, tid: str) -> None:
    response = client.get(f"/v1/customers/0/transactions/{tid}")
    assert "transaction_id" in assert_shape(response, 422, "invalid_transaction_id")
    assert Recorder.seen == []


def test_a_transaction_id_of_64_characters_is_forwarded(client: TestClient) -> None:
    tid = "f" * 64
    assert client.get(f"{WRITE}/{tid}").status_code == 200
    assert Recorder.seen[0][1] == f"{WRITE}/{tid}"


@pytest.mark.parametrize("customer", ["%0A", "x" * 65, "has%20space"])
def test_a_malformed_customer_id_is_422_and_not_forwarded(
    client: TestClient, customer: str
) -> None:
    for path in (f"/v1/customers/{customer}/account", f"/v1/routes/{customer}"):
        assert_shape(client.get(path), 422, "invalid_customer_id")
    assert Recorder.seen == []


def test_an_unknown_path_is_404_in_the_shape(client: TestClient) -> None:
    assert "GET /v1/nothing" in assert_shape(client.get("/v1/nothing"), 404, "not_found")


def test_a_wrong_method_is_405_in_the_shape(client: TestClient) -> None:
    assert "DELETE" in assert_shape(client.delete(WRITE), 405, "method_not_allowed")


def padded(size: int) -> bytes:
    return BODY + b" " * (size - len(BODY))


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


def write(client: TestClient, content: bytes | Iterator[bytes]) -> httpx.Response:
    headers = {"Idempotency-Key": "k-1", "Content-Type": "application/json"}
    return client.post(WRITE, content=content, headers=headers)


def test_a_write_of_exactly_the_limit_is_forwarded(client: TestClient) -> None:
    assert write(client, padded(API_BODY_LIMIT)).status_code == 201
    assert Recorder.seen[0][3] == API_BODY_LIMIT


def test_a_write_over_the_limit_is_413_by_content_length_and_not_forwarded(
    client: TestClient,
) -> None:
    detail = assert_shape(write(client, padded(API_BODY_LIMIT + 1)), 413, "body_too_large")
    assert f"limit of {API_BODY_LIMIT} bytes" in detail
    assert Recorder.seen == []


def test_a_chunked_write_over_the_limit_is_413_and_not_forwarded(client: TestClient) -> None:
    response = write(client, chunks(padded(API_BODY_LIMIT + 1)))
    assert "content-length" not in response.request.headers
    assert f"limit of {API_BODY_LIMIT} bytes" in assert_shape(response, 413, "body_too_large")
    assert Recorder.seen == []


def test_the_idempotency_key_reaches_the_unit_as_sent(client: TestClient) -> None:
    headers = {"Idempotency-Key": "k-1:a.b", "Content-Type": "application/json"}
    assert client.post(WRITE, content=BODY, headers=headers).status_code == 201
    assert Recorder.seen[0][2]["idempotency-key"] == "k-1:a.b"


class BrokenRoutes(StaticRoutes):
    def table(self) -> RoutingTable:
        raise RuntimeError("routing table on fire")


def test_an_unexpected_failure_is_500_in_the_shape(unit_url: str) -> None:
    with router(unit_url, BrokenRoutes([])) as client:
        response = client.get(f"{WRITE}/t1")
    assert "router log" in assert_shape(response, 500, "internal")
