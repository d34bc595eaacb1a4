"""Wire helpers for etcd's JSON gateway: base64 keys/values, int64-as-string fields,
prefix range ends, and the canonical JSON used for values we compare byte-for-byte."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from failover.dcs.port import Compare, CompareTarget, Delete, KeyValue, Operation, Put


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def unb64(data: str) -> str:
    return base64.b64decode(data).decode("utf-8")


def prefix_end(prefix: str) -> str:
    """The range end that selects every key starting with ``prefix`` (etcd convention:
    the prefix with its last byte incremented)."""
    raw = bytearray(prefix.encode("utf-8"))
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return b64(b"\0")  # the whole keyspace
    raw[-1] += 1
    return b64(bytes(raw))


def as_int(value: object) -> int:
    """etcd's gateway sends int64 as strings and omits zero values."""
    return int(value) if isinstance(value, int | str) else 0


def key_value(raw: Mapping[str, Any]) -> KeyValue:
    return KeyValue(
        key=unb64(raw["key"]),
        value=unb64(raw.get("value", "")),
        version=as_int(raw.get("version")),
        mod_revision=as_int(raw.get("mod_revision")),
        lease=as_int(raw.get("lease")),
    )


def canonical_json(data: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces: equal documents give equal bytes, so a transaction can
    compare a stored value with an expected one. ``app.etcd_client`` uses the same rule."""
    return json.dumps(dict(data), sort_keys=True, separators=(",", ":"))


def compare_json(compare: Compare) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": b64(compare.key),
        "target": compare.target.value,
        "result": compare.op,
    }
    field = {
        CompareTarget.VALUE: "value",
        CompareTarget.VERSION: "version",
        CompareTarget.MOD: "mod_revision",
        CompareTarget.CREATE: "create_revision",
    }[compare.target]
    operand = compare.operand
    body[field] = b64(str(operand)) if compare.target is CompareTarget.VALUE else str(operand)
    return body


def operation_json(operation: Operation) -> dict[str, Any]:
    if isinstance(operation, Put):
        put: dict[str, Any] = {"key": b64(operation.key), "value": b64(operation.value)}
        if operation.lease:
            put["lease"] = str(operation.lease)
        return {"request_put": put}
    assert isinstance(operation, Delete)
    delete: dict[str, Any] = {"key": b64(operation.key)}
    if operation.prefix:
        delete["range_end"] = prefix_end(operation.key)
    return {"request_delete_range": delete}
