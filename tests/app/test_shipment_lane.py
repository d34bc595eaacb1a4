"""The standby's shipment lane: a well-formed, authorized shipment is applied without the
full application; anything else reaches the full application with its body intact, so
its refusals stay the documented ones."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lane_helpers import FullApplication, post
from test_receiver import PRIMARY, entry, handshake, ship
from unit_app_helpers import TOKEN, settings_for, unit_client

from app.errors import UnavailableError
from app.lease import NoLease
from app.protocol import HandshakeRequest
from app.service import UnitService, build_service
from app.shipment_lane import PATH, ShipmentLane


@pytest.fixture
def standby(tmp_path: Path) -> Iterator[UnitService]:
    service = build_service(settings_for(tmp_path), NoLease())
    service.start()
    yield service
    service.stop()


def call(lane: ShipmentLane, body: bytes, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return post(lane, PATH, body, headers)


def shipment(*lsns: int, primary_site: str = PRIMARY) -> bytes:
    body = {"epoch": 1, "primary_site": primary_site, "entries": [entry(lsn) for lsn in lsns]}
    return json.dumps(body).encode()


def test_a_well_formed_shipment_is_applied_without_the_full_application(
    standby: UnitService,
) -> None:
    full = FullApplication()
    lane = ShipmentLane(full, service=standby)
    standby.receiver.handshake(
        HandshakeRequest(epoch=1, primary_site=PRIMARY, last_lsn=0, epoch_ranges=[])
    )
    assert call(lane, shipment(1, 2)) == (200, {"status": "applied", "applied_lsn": 2, "epoch": 1})
    assert full.bodies == []


def test_a_shipment_the_receiver_refuses_is_answered_as_the_error_handlers_answer(
    standby: UnitService,
) -> None:
    full = FullApplication()
    status, body = call(ShipmentLane(full, service=standby), shipment(1))
    assert (status, body["error"]) == (409, "handshake_required")
    assert full.bodies == []


@pytest.mark.parametrize(
    ("body", "token"),
    [
        (shipment(1), None),
        (shipment(1), "not-the-token"),
        (b'{"epoch": 1, "primary_site": "production", "entries": [{"lsn": 0}]}', TOKEN),
        (b"not json", TOKEN),
        (shipment(1, primary_site="mars"), TOKEN),
    ],
    ids=["no-token", "wrong-token", "invalid-entry", "not-json", "unknown-site"],
)
def test_anything_else_reaches_the_full_application_with_its_body(
    standby: UnitService, body: bytes, token: str | None
) -> None:
    full = FullApplication()
    assert call(ShipmentLane(full, service=standby), body, token)[0] == 599
    assert full.bodies == [body]
    assert standby.queries.journal_position() == (0, 0)


def test_shipments_served_by_the_lane_are_counted_under_their_route(tmp_path: Path) -> None:
    with unit_client(settings_for(tmp_path)) as unit:
        handshake(unit, 1, [], 0)
        assert ship(unit, 1, [entry(1)]).status_code == 200
        metrics = unit.get("/metrics").text
    assert 'route="/replication/entries",status="200"' in metrics


def test_the_full_application_still_names_the_field_at_fault(tmp_path: Path) -> None:
    with unit_client(settings_for(tmp_path)) as unit:
        handshake(unit, 1, [], 0)
        refused = ship(unit, 1, [{**entry(1), "lsn": 0}])
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_request")
    assert "lsn" in refused.json()["detail"]


def test_a_shipment_reaching_a_stopped_service_is_refused_as_retryable_not_an_error(
    tmp_path: Path,
) -> None:
    service = build_service(settings_for(tmp_path), NoLease())
    service.start()
    service.stop()  # its receiver is closed with it
    status, body = call(ShipmentLane(FullApplication(), service=service), shipment(1))
    assert (status, body["error"]) == (503, "unavailable")
    assert "shutting down" in body["detail"]


def test_a_shipment_waits_for_no_catch_up_on_the_loop_it_goes_to_the_full_application(
    standby: UnitService,
) -> None:
    full = FullApplication()
    lane = ShipmentLane(full, service=standby)
    standby.receiver.handshake(
        HandshakeRequest(epoch=1, primary_site=PRIMARY, last_lsn=0, epoch_ranges=[])
    )
    # The receiver's lock, held by another thread, stands for a catch-up applying there.
    held, release = threading.Event(), threading.Event()

    def catching_up() -> None:
        with standby.receiver._lock:
            held.set()
            release.wait(10)

    other = threading.Thread(target=catching_up)
    other.start()
    try:
        assert held.wait(10)
        assert call(lane, shipment(1))[0] == 599
    finally:
        release.set()
        other.join()
    assert full.bodies == [shipment(1)]
    assert standby.queries.journal_position() == (0, 0)
    assert call(lane, shipment(1)) == (200, {"status": "applied", "applied_lsn": 1, "epoch": 1})


def test_a_closed_receiver_refuses_handshakes_as_retryable(standby: UnitService) -> None:
    standby.receiver.close()
    with pytest.raises(UnavailableError, match="shutting down"):
        standby.receiver.handshake(
            HandshakeRequest(epoch=1, primary_site=PRIMARY, last_lsn=0, epoch_ranges=[])
        )
