"""Request body limits of the unit service: 413 naming the limit, before the body is read
(Content-Length) or as soon as a chunked body passes it, and nothing written either way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from unit_app_helpers import AUTH, TOPOLOGY, customer_of, promote_alone, settings_for, unit_client

from app import journal
from app.limits import API_BODY_LIMIT, replication_body_limit, unit_body_limits

CUSTOMER = customer_of("u00")
WRITE = f"/v1/customers/{CUSTOMER}/transactions"
BODY = b'{"type":"purchase","amount_minor":5,"currency":"CNY"}'
BATCH_SIZE = TOPOLOGY.replication.batch_size
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}


def padded(size: int) -> bytes:
    """A valid write of exactly ``size`` bytes: whitespace after the JSON object."""
    return BODY + b" " * (size - len(BODY))


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A generator body: sent chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post(client: TestClient, content: bytes | Iterator[bytes], key: str = "k-1"):
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    return client.post(WRITE, content=content, headers=headers)


def last_lsn(client: TestClient) -> int:
    return int(client.get("/v1/unit").json()["last_lsn"])


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "body_too_large"
    assert f"limit of {limit} bytes" in response.json()["detail"]


def test_a_write_of_exactly_the_limit_is_posted(primary: TestClient) -> None:
    response = post(primary, padded(API_BODY_LIMIT))
    assert response.status_code == 201, response.text


def test_a_write_one_byte_over_the_limit_is_413_by_its_content_length(primary: TestClient) -> None:
    response = post(primary, padded(API_BODY_LIMIT + 1))
    assert_too_large(response, API_BODY_LIMIT)
    assert last_lsn(primary) == 0


def test_a_chunked_write_over_the_limit_is_413_while_it_streams(primary: TestClient) -> None:
    response = post(primary, chunks(padded(API_BODY_LIMIT + 1)))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_too_large(response, API_BODY_LIMIT)
    assert last_lsn(primary) == 0


def test_a_chunked_write_within_the_limit_is_posted(primary: TestClient) -> None:
    response = post(primary, chunks(padded(API_BODY_LIMIT)))
    assert response.status_code == 201, response.text


def test_a_20_mb_body_is_refused_without_being_read(primary: TestClient) -> None:
    # 20 MB declared, 10 bytes sent: an answer at all shows nothing waited for the rest.
    headers = {"Content-Length": str(20 * 1024 * 1024), "Idempotency-Key": "k-1"}
    response = primary.post(WRITE, content=b"0123456789", headers=headers)
    assert_too_large(response, API_BODY_LIMIT)


def test_admin_requests_take_the_api_limit(standby: TestClient) -> None:
    body = json.dumps({"role": "fenced", "epoch": 1}).encode()
    response = standby.post("/admin/role", content=body + b" " * API_BODY_LIMIT, headers=JSON_AUTH)
    assert_too_large(response, API_BODY_LIMIT)
    assert standby.get("/v1/unit").json()["role"] == "standby"


def test_replication_takes_a_limit_sized_for_its_batches() -> None:
    limit_of = unit_body_limits(BATCH_SIZE)
    assert limit_of("/replication/entries") == replication_body_limit(BATCH_SIZE)
    assert limit_of("/v1/customers/c/transactions") == API_BODY_LIMIT
    assert replication_body_limit(10_000) > replication_body_limit(500) >= 1024 * 1024


def largest_entries(tmp_path: Path) -> list[str]:
    """``batch_size`` real journal entries as large as the write API allows them: 64-
    character customer id, 128-character key, a merchant JSON escapes to 6 bytes a char."""
    customer = next(
        c for i in range(100_000) if TOPOLOGY.unit_of(c := f"{i:x}".rjust(64, "Z")) == "u00"
    )
    body = {"type": "purchase", "amount_minor": 10**12, "currency": "CNY"}
    body["merchant"] = "\u0000" * 128
    with unit_client(settings_for(tmp_path / "primary", credit_limit_minor=10**15)) as primary:
        promote_alone(primary, epoch=1)
        for i in range(BATCH_SIZE):
            headers = {"Idempotency-Key": f"{i:06d}".rjust(128, "k")}
            url = f"/v1/customers/{customer}/transactions"
            assert primary.post(url, json=body, headers=headers).status_code == 201
        with primary.app.state.service.db.read() as session:
            return journal.entries_json_after(session, 0, BATCH_SIZE)


def shipment(entries: list[str], epoch: int, site: str) -> bytes:
    """The body of ``POST /replication/entries`` as app.replication assembles it."""
    header = f'{{"epoch":{epoch},"primary_site":{json.dumps(site)},"entries":['
    return (header + ",".join(entries) + "]}").encode()


def test_the_largest_legitimate_batch_fits_the_replication_limit_with_room(
    tmp_path: Path,
) -> None:
    entries = largest_entries(tmp_path)
    largest = shipment(entries, 2**63 - 1, "s" * 64)  # the longest header a request may carry
    assert len(largest) * 2 <= replication_body_limit(BATCH_SIZE), len(largest)
    with unit_client(settings_for(tmp_path / "standby", site="same-city")) as standby:
        handshake = {"epoch": 1, "primary_site": "production", "last_lsn": 0, "epoch_ranges": []}
        assert standby.post("/replication/handshake", json=handshake, headers=AUTH).is_success
        body = shipment(entries, 1, "production")
        answer = standby.post("/replication/entries", content=body, headers=JSON_AUTH)
        assert answer.json() == {"status": "applied", "applied_lsn": BATCH_SIZE, "epoch": 1}


def test_a_replication_body_over_its_limit_is_413(standby: TestClient) -> None:
    limit = replication_body_limit(BATCH_SIZE)
    body = b'{"epoch":1,"primary_site":"same-city","entries":[]}'
    response = standby.post("/replication/entries", content=body + b" " * limit, headers=JSON_AUTH)
    assert_too_large(response, limit)
