"""The ledger endpoints, exactly the router's contract (docs/design.md §5)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse

from app.deps import ServiceDep
from app.errors import UnitError
from app.ledger import validate_idempotency_key
from app.schemas import (
    TRANSACTION_ID_PATTERN,
    AccountView,
    TransactionRequest,
    TransactionResult,
    TransactionView,
)
from app.service import UnitService
from failover.ledger_api import CUSTOMER_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER
from failover.openapi import errors

router = APIRouter(prefix="/v1/customers/{customer_id}")

TransactionId = Annotated[str, Path(pattern=TRANSACTION_ID_PATTERN)]
"""A malformed id (a newline, 65 characters) is 422, not a lookup that finds nothing."""


@router.post(
    "/transactions",
    status_code=201,
    response_model=TransactionResult,
    responses={
        200: {"model": TransactionResult, "description": "A replay of an earlier write."},
        **errors(409, 413, 421, 422, 503),
    },
    openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER]},
)
async def post_transaction(
    customer_id: Annotated[str, Path(include_in_schema=False)],
    body: TransactionRequest,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", include_in_schema=False)
    ] = None,
) -> JSONResponse:
    """Post a purchase, payment or refund once per ``Idempotency-Key``."""
    key = validate_idempotency_key(idempotency_key)
    service.check_customer(customer_id)
    return await post_write(service, customer_id, key, body)


async def post_write(
    service: UnitService, customer_id: str, key: str, body: TransactionRequest
) -> JSONResponse:
    """The write, once the request is known well formed and for this unit's customer:
    what the route and the write lane (app/write_lane.py) both answer."""
    started = time.monotonic()
    await service.gray.delay()  # the gray-failure drill's slowness: counted as the write's latency
    try:
        status, result = await service.writes.post(customer_id, key, body)
    except UnitError as exc:
        # A 5xx is the unit failing its customer (business traffic the trend watch
        # follows); a 4xx is the client's mistake and is not counted.
        if exc.status >= 500:
            service.traffic.record(body.type, "failed", time.monotonic() - started)
        raise
    if status == 201:
        service.traffic.record(body.type, result.status, time.monotonic() - started)
    return JSONResponse(result.model_dump(), status_code=status)


@router.get(
    "/transactions/{transaction_id}",
    responses=errors(404, 421, 422),
    openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER]},
)
def get_transaction(
    customer_id: Annotated[str, Path(include_in_schema=False)],
    transaction_id: TransactionId,
    service: ServiceDep,
) -> TransactionView:
    service.check_customer(customer_id)
    return service.queries.transaction(customer_id, transaction_id)


@router.get(
    "/account", responses=errors(421, 422), openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER]}
)
def get_account(
    customer_id: Annotated[str, Path(include_in_schema=False)], service: ServiceDep
) -> AccountView:
    service.check_customer(customer_id)
    return service.queries.account(customer_id)
