"""Helpers for the lane tests: the application behind a lane, and one ASGI POST."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FullApplication:
    """Stands for the FastAPI app behind a lane: records the bodies that reach it and
    answers 599, a status no lane and no route answers."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def post(
    app: ASGIApp, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, Any]:
    """``POST path`` with ``body`` in one piece: the status and the JSON answer (None
    when the answer has no body)."""
    status, _, answer = call(app, "POST", path, body, headers)
    return status, answer


def get(app: ASGIApp, path: str) -> tuple[int, dict[str, str], Any]:
    """``GET path``: the status, the answer's headers and its JSON (None without a body)."""
    return call(app, "GET", path, b"", [])


def call(
    app: ASGIApp, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], Any]:
    """One ASGI request with ``body`` in one piece: the status, the answer's headers and
    its JSON (None when the answer has no body)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": headers,
        "query_string": b"",
    }
    answer: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        answer.append(message)

    asyncio.run(app(scope, receive, send))
    answered = {k.decode(): v.decode() for k, v in answer[0]["headers"]}
    content = answer[1]["body"]
    return answer[0]["status"], answered, json.loads(content) if content else None
