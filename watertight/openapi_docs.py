"""Publish the OpenAPI documents of the three HTTP services as ``docs/api/*.json``.

``python -m watertight.openapi_docs`` writes them (pretty, sorted keys);
``python -m watertight.openapi_docs --check`` exits 1 naming every published document
that differs from what the code generates. ``tests/watertight/test_openapi_docs.py``
runs the same comparison, so the published documents cannot go stale.

Each document is generated from the service's routes alone (``unit_api``,
``router_api``, ``controller_api``): no database, etcd or runtime is needed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from app.main import unit_api
from failover.controller.api import controller_api
from failover.router.app import router_api

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api"
SERVICES: dict[str, Callable[[], FastAPI]] = {
    "unit-service.json": unit_api,
    "router.json": router_api,
    "controller.json": controller_api,
}


def documents() -> dict[str, dict[str, Any]]:
    """File name → the OpenAPI document the code generates for that service."""
    return {name: build().openapi() for name, build in SERVICES.items()}


def render(document: dict[str, Any]) -> str:
    """The published spelling: two-space indent, sorted keys, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale(docs: Path = DOCS) -> list[str]:
    """Names of the published documents that differ from the generated ones (or are missing)."""
    out = []
    for name, document in documents().items():
        path = docs / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(document):
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        names = stale()
        for name in names:
            print(f"docs/api/{name} is stale: run python -m watertight.openapi_docs")
        return 1 if names else 0
    if args:
        print("usage: python -m watertight.openapi_docs [--check]", file=sys.stderr)
        return 2
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (DOCS / name).write_text(render(document), encoding="utf-8")
        print(f"wrote docs/api/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
