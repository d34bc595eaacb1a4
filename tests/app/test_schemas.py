"""Every integer a request model of the unit service carries is bounded by what storage
holds (a signed 64-bit BIGINT), so an out-of-range value is a 422, never an overflow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import pytest
from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from app.protocol import ApplyRequest, CatchUpRequest, ExportRequest, HandshakeRequest
from app.roles import RoleRequest
from app.schemas import INT64_MAX, INT64_MIN, Int64, TransactionRequest

REQUESTS = (TransactionRequest, RoleRequest, HandshakeRequest, ApplyRequest, ExportRequest,
            CatchUpRequest)  # fmt: skip


def models_within(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield model
    for field in model.model_fields.values():
        for inner in _types(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not model:
                yield from models_within(inner)


def _types(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        yield from _types(arg)


def integer_fields() -> Iterator[tuple[str, FieldInfo]]:
    seen: set[str] = set()
    for request in REQUESTS:
        for model in models_within(request):
            for name, field in model.model_fields.items():
                key = f"{model.__name__}.{name}"
                if key not in seen and int in set(_types(field.annotation)):
                    seen.add(key)
                    yield key, field


def bounds(field: FieldInfo) -> tuple[int | None, int | None]:
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    return low, high


FIELDS = dict(integer_fields())


def test_the_walk_finds_the_integers_of_nested_models() -> None:
    assert {"Effect.amount_minor", "WireEntry.lsn", "EpochRange.last_lsn"} <= set(FIELDS)
    assert {"RoleRequest.epoch", "TransactionResult.available_credit_minor"} <= set(FIELDS)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_integer_field_is_bounded_within_64_bits(name: str) -> None:
    low, high = bounds(FIELDS[name])
    assert low is not None and high is not None, f"{name} is unbounded"
    assert INT64_MIN <= low <= high <= INT64_MAX


@pytest.mark.parametrize(("value", "ok"), [(INT64_MAX, True), (INT64_MAX + 1, False),
                                           (INT64_MIN, True), (INT64_MIN - 1, False)])  # fmt: skip
def test_a_signed_amount_holds_exactly_the_bigint_range(value: int, ok: bool) -> None:
    class Amount(BaseModel):
        value: Int64

    if ok:
        assert Amount(value=value).value == value
    else:
        with pytest.raises(ValidationError):
            Amount(value=value)
