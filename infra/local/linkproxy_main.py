"""Entry point of the link proxy process.

``python -m infra.local.linkproxy_main --sites production,same-city,remote-dr
--token-file T --ready-file R [--host 127.0.0.1] [--control-port 0]``

Binds the control API, then writes ``{"control_url", "pid"}`` to the ready file
(atomically) and serves until SIGTERM/SIGINT. Logs go to stderr (the supervisor's log), as
JSON lines there (failover/log_format.py); ``WATERTIGHT_LOG_FORMAT`` is the only variable read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
from pathlib import Path

from failover.http_server import quiet_server
from failover.log_format import LogContext, configure_logging
from infra.local.linkproxy import LinkProxy
from infra.local.linkproxy_control import control_app


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="linkproxy", description=__doc__)
    parser.add_argument("--sites", required=True, help="comma-separated site names")
    parser.add_argument("--token-file", required=True, type=Path)
    parser.add_argument("--ready-file", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--control-port", type=int, default=0)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    token = args.token_file.read_text(encoding="utf-8").strip()
    proxy = LinkProxy([s for s in args.sites.split(",") if s], host=args.host)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.control_port))
    port = sock.getsockname()[1]
    server = quiet_server(
        control_app(proxy, token),
        log_level="warning",
        log_config=None,  # configure_logging routes uvicorn's records through ours
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    ready = {"control_url": f"http://{args.host}:{port}", "pid": os.getpid()}
    temporary = args.ready_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(ready), encoding="utf-8")
    temporary.replace(args.ready_file)
    logging.getLogger("watertight.linkproxy").info("control API on %s", ready["control_url"])
    try:
        await server.serve(sockets=[sock])
    finally:
        await proxy.close()


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    # The proxy carries every site's links and belongs to none of them.
    try:
        configure_logging(LogContext("linkproxy"), logging.INFO)
    except ValueError as exc:
        raise SystemExit(f"linkproxy: {exc}") from exc
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
