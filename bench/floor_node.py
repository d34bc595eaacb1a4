"""One process of the floor benchmark (:mod:`floor`): a router, a primary or a standby,
doing the fewest steps a replicated write through a router can take in Python here.

    python bench/floor_node.py router PORT DATA_DIR UNIT_PORT...
    python bench/floor_node.py primary PORT DATA_DIR STANDBY_PORT...
    python bench/floor_node.py standby PORT DATA_DIR
    python bench/floor_node.py observer 0 DATA_DIR PORT/PATH...

Each is a bare ASGI app under uvicorn with the same HTTP parser and event loop as the
product (:func:`failover.http_server.serve`); the router and the primary
send with the product's keep-alive client (:mod:`failover.keepalive_asyncio`). Every
copy commits to SQLite in WAL mode with ``synchronous=FULL``, as the product does.

What it keeps from the product's write: a router hop, a group commit on the primary
(the account row and a journal entry in one transaction), one shipment stream per
standby (one batch in flight, everything committed since the last one), and the
acknowledgement once either standby has applied the entry (``any-standby``). What it
leaves out, on purpose: validation, idempotency keys, the credit decision, leases,
fencing, authentication, metrics, link proxies, etcd, observers, controllers. It is a
floor to compare with, never a product.

For the idle floor (``floor.py --idle``) it also keeps what an idle platform must do at
the design's rates: every process answers a status ``GET`` (a body the size of a unit's
``/v1/unit``); a primary ships an empty batch to a standby that has had nothing for
:data:`HEARTBEAT_SECONDS`; an ``observer`` GETs each target port every
:data:`PROBE_INTERVAL_SECONDS`, all at once, with the product's asyncio keep-alive client
(as the product's observer does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from failover.http_server import serve
from failover.keepalive_asyncio import AsyncKeepAliveClient, Timeouts
from failover.observer.probes import probe_timeouts
from failover.topology import Replication, Timing

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON = [(b"content-type", b"application/json")]
#: The product's defaults; ``floor.py --heartbeat-seconds`` sets the heartbeat (0: none)
#: to take the idle floor apart.
HEARTBEAT_SECONDS = (
    float(os.environ.get("FLOOR_HEARTBEAT_SECONDS", Replication().heartbeat_seconds)) or None
)
PROBE_INTERVAL_SECONDS = Timing().probe_interval_seconds
#: About what a standby's ``/v1/unit`` answers.
STATUS = json.dumps({"unit": "u00", "site": "production", "role": "standby", "epoch": 3,
                     "primary_site": "same-city", "last_lsn": 0, "last_entry_epoch": 3,
                     "fence_reason": None, "traffic": {}}).encode()  # fmt: skip


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def answered_status(scope: Scope, send: Send) -> bool:
    """Answer a status ``GET`` (a probe); False for anything else."""
    if scope["method"] != "GET":
        return False
    await answer(send, 200, STATUS)
    return True


async def answer(send: Send, status: int, body: bytes) -> None:
    headers = [*JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def open_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS journal (lsn INTEGER PRIMARY KEY, entry TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS account (customer TEXT PRIMARY KEY, spent INTEGER)")
    return db


def post_entry(db: sqlite3.Connection, lsn: int, customer: str, amount: int, entry: str) -> None:
    db.execute(
        "INSERT INTO account VALUES (?, ?) "
        "ON CONFLICT(customer) DO UPDATE SET spent = spent + excluded.spent",
        (customer, amount),
    )
    db.execute("INSERT OR IGNORE INTO journal VALUES (?, ?)", (lsn, entry))


def router(unit_ports: list[int]) -> App:
    client = AsyncKeepAliveClient(Timeouts.each(10.0))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or await answered_status(scope, send):
            return
        body = await read_body(receive)
        customer = scope["path"].split("/")[3]
        digest = hashlib.sha256(customer.encode()).digest()
        port = unit_ports[int.from_bytes(digest[:8], "big") % len(unit_ports)]
        upstream = await client.request(
            "POST", f"http://127.0.0.1:{port}{scope['path']}", content=body, headers=JSON
        )
        await answer(send, upstream.status, upstream.body)

    return app


class Primary:
    """Group commit and one shipment stream per standby, all on the event loop."""

    def __init__(self, db: sqlite3.Connection, standby_ports: list[int]) -> None:
        self.db = db
        self.lsn: int = db.execute("SELECT coalesce(max(lsn), 0) FROM journal").fetchone()[0]
        self.queue: list[tuple[str, dict[str, Any], asyncio.Future[bytes]]] = []
        self.waiting: list[tuple[int, asyncio.Future[bytes], bytes]] = []
        self.durable = self.lsn
        self.client = AsyncKeepAliveClient(Timeouts.each(10.0))
        self.streams = {port: list[str]() for port in standby_ports}
        self.work = asyncio.Event()
        self.shippable = {port: asyncio.Event() for port in standby_ports}
        self.tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http" or await answered_status(scope, send):
            return
        request = json.loads(await read_body(receive))
        outcome = asyncio.get_running_loop().create_future()
        self.queue.append((scope["path"].split("/")[3], request, outcome))
        self.work.set()
        await answer(send, 201, await outcome)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Start committing and shipping with the server, so heartbeats flow while idle."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.tasks.append(asyncio.create_task(self.commit_forever()))
                self.tasks += [asyncio.create_task(self.ship_forever(p)) for p in self.streams]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def commit_forever(self) -> None:
        while True:
            await self.work.wait()
            self.work.clear()
            group, self.queue = self.queue, []
            entries = []
            self.db.execute("BEGIN IMMEDIATE")
            for customer, request, outcome in group:
                self.lsn += 1
                entry = json.dumps({"lsn": self.lsn, "customer": customer, "request": request})
                post_entry(self.db, self.lsn, customer, request["amount_minor"], entry)
                entries.append(entry)
                result = json.dumps({"lsn": self.lsn, "status": "approved"}).encode()
                self.waiting.append((self.lsn, outcome, result))
            self.db.execute("COMMIT")
            for port, stream in self.streams.items():
                stream.extend(entries)
                self.shippable[port].set()

    async def ship_forever(self, port: int) -> None:
        url = f"http://127.0.0.1:{port}/apply"
        while True:
            # Nothing to ship for a heartbeat's time: an empty batch, as the product's.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shippable[port].wait(), HEARTBEAT_SECONDS)
            self.shippable[port].clear()
            batch, self.streams[port] = self.streams[port], []
            body = ("[" + ",".join(batch) + "]").encode()
            applied = await self.client.request("POST", url, content=body, headers=JSON)
            self.acknowledged(int(json.loads(applied.body)["applied"]))

    def acknowledged(self, lsn: int) -> None:
        """Either standby has applied up to ``lsn``: answer every write up to it."""
        if lsn <= self.durable:
            return
        self.durable = lsn
        still = []
        for waiting in self.waiting:
            if waiting[0] <= lsn:
                waiting[1].set_result(waiting[2])
            else:
                still.append(waiting)
        self.waiting = still


def standby(db: sqlite3.Connection) -> App:
    applied = [db.execute("SELECT coalesce(max(lsn), 0) FROM journal").fetchone()[0]]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or await answered_status(scope, send):
            return
        entries = json.loads(await read_body(receive))
        if entries:
            db.execute("BEGIN IMMEDIATE")
            for entry in entries:
                amount = entry["request"]["amount_minor"]
                post_entry(db, entry["lsn"], entry["customer"], amount, json.dumps(entry))
            db.execute("COMMIT")
            applied[0] = entries[-1]["lsn"]
        await answer(send, 200, json.dumps({"applied": applied[0]}).encode())

    return app


async def observe(targets: list[str]) -> None:
    """GET every ``PORT/PATH`` each probe interval, all at once, as an observer's round."""
    connect, read = probe_timeouts(Timing())
    client = AsyncKeepAliveClient(Timeouts(connect, read, read, read))
    urls = [f"http://127.0.0.1:{target}" for target in targets]
    loop = asyncio.get_running_loop()
    next_round = loop.time()
    while True:
        await asyncio.gather(
            *(client.request("GET", url, content=b"", headers=[]) for url in urls),
            return_exceptions=True,
        )
        next_round += PROBE_INTERVAL_SECONDS
        await asyncio.sleep(max(0.0, next_round - loop.time()))


def main() -> None:
    role, port, data = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if role == "observer":
        asyncio.run(observe(sys.argv[4:]))
        return
    peers = [int(peer) for peer in sys.argv[4:]]
    app: App
    if role == "router":
        app = router(peers)
    elif role == "primary":
        app = Primary(open_database(data / f"primary-{port}.db"), peers)
    else:
        app = standby(open_database(data / f"standby-{port}.db"))
    serve(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
          lifespan="on" if role == "primary" else "off")  # fmt: skip


if __name__ == "__main__":
    main()
