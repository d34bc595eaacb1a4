"""The router's forwarding rule against real sockets: a unit that answers, a unit that
accepts connections and never answers (a hung or blackholed site), a route that moves
while a request waits, and a suspect route that only one request at a time waits on."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from failover.keepalive_asyncio import Timeouts
from failover.router.addresses import AddressMap
from failover.router.app import create_router_app
from failover.router.source import StaticRoutes
from failover.routing import Route, RoutingTable
from failover.topology import default_topology

TOPOLOGY = default_topology()
CUSTOMER = "c-0001"
UNIT = TOPOLOGY.unit_of(CUSTOMER)
TIMEOUT = Timeouts.each(0.3)
WRITE = {"type": "purchase", "amount_minor": 100, "currency": "CNY"}


class Silent:
    """Accepts TCP connections and never answers; counts what it accepted."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class Posted(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({"transaction_id": "t1", "site": "same-city", "epoch": 2}).encode()
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Posted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class MovingRoutes(StaticRoutes):
    """Routes whose re-read finds ``moved_to`` (the controller promoted meanwhile)."""

    def __init__(self, first: Route, moved_to: Route | None) -> None:
        super().__init__([first])
        self.moved_to = moved_to
        self.refreshes = 0

    def refresh(self) -> RoutingTable:
        self.refreshes += 1
        if self.moved_to is not None:
            self.set(self.moved_to)
        return self.table()


def router_client(routes: StaticRoutes, production: str, same_city: str) -> TestClient:
    """A client of a router whose unit has these two instances (enter it to start)."""
    addresses = AddressMap({UNIT: {"production": production, "same-city": same_city}})
    return TestClient(create_router_app(TOPOLOGY, routes, addresses, upstream_timeouts=TIMEOUT))


def write(client: TestClient, key: str = "k-1") -> httpx.Response:
    path = f"/v1/customers/{CUSTOMER}/transactions"
    return client.post(path, json=WRITE, headers={"Idempotency-Key": key})


def post(routes: StaticRoutes, production: str, same_city: str) -> httpx.Response:
    with router_client(routes, production, same_city) as client:
        return write(client)


def test_a_timed_out_primary_is_not_asked_twice_while_its_route_stays(
    silent: Silent, answering: str
) -> None:
    routes = MovingRoutes(Route(UNIT, "production", 1), moved_to=None)
    answer = post(routes, silent.url, answering)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "production (epoch 1) unreachable: read timed out" in answer.json()["detail"]
    assert routes.refreshes == 1
    assert len(silent.accepted) == 1


def test_a_request_follows_a_route_that_moved_while_it_waited(
    silent: Silent, answering: str
) -> None:
    routes = MovingRoutes(Route(UNIT, "production", 1), moved_to=Route(UNIT, "same-city", 2))
    answer = post(routes, silent.url, answering)
    assert answer.status_code == 201
    assert answer.json()["site"] == "same-city"
    assert len(silent.accepted) == 1


def test_a_refused_connection_answers_503_naming_the_failure(answering: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    routes = MovingRoutes(Route(UNIT, "production", 1), moved_to=None)
    answer = post(routes, dead, answering)
    assert answer.status_code == 503
    assert "unreachable: connect failed" in answer.json()["detail"]
    assert routes.refreshes == 1


def test_after_a_timeout_only_one_request_at_a_time_waits_on_the_silent_primary(
    silent: Silent, answering: str
) -> None:
    routes = MovingRoutes(Route(UNIT, "production", 1), moved_to=None)
    with router_client(routes, silent.url, answering) as client:
        assert write(client, "k-0").status_code == 503  # the timeout that makes it suspect
        with ThreadPoolExecutor(max_workers=6) as pool:
            keys = [f"k-{n}" for n in range(1, 7)]
            answers = list(pool.map(lambda key: write(client, key), keys))
        metrics = client.get("/metrics").text
    details = sorted(a.json()["detail"] for a in answers)
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["retry-after"] == "1" for a in answers)
    waited = [d for d in details if "read timed out" in d]
    held = [d for d in details if "one request at a time probes it" in d]
    # The probe may come back before the last of the six is admitted, and then one more
    # is the next probe; never all six.
    assert 1 <= len(waited) <= 2
    assert len(held) == 6 - len(waited)
    assert len(silent.accepted) == 1 + len(waited)
    assert f'watertight_router_suspect_refusals_total{{unit="{UNIT}"}} {len(held)}.0' in metrics


def test_a_unit_that_moves_leaves_its_suspect_route_behind(silent: Silent, answering: str) -> None:
    routes = MovingRoutes(Route(UNIT, "production", 1), moved_to=None)
    with router_client(routes, silent.url, answering) as client:
        first = write(client)
        routes.set(Route(UNIT, "same-city", 2))
        moved = write(client)
    assert first.status_code == 503
    assert moved.status_code == 201
    assert moved.json()["site"] == "same-city"
