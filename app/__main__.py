"""``python -m app``: serve one unit in one site.

Settings come from ``WATERTIGHT_*`` environment variables and the same names as
command-line options (``--unit u00 --site production --port 8100``); see app/settings.py.
A ``WATERTIGHT_*`` variable the unit service does not read stops it at start (exit 2).
"""

from __future__ import annotations

import logging
import os
import sys

from pydantic import ValidationError
from pydantic_settings import CliApp

from app.main import create_app
from app.node import Node
from app.settings import ENV_CONTRACT, UnitSettings
from failover.env_contract import UnknownVariableError
from failover.http_server import serve
from failover.log_format import LogContext, configure_logging
from failover.tls import uvicorn_options

GRACEFUL_SHUTDOWN_SECONDS = 3
# Longer than any client's idle-connection expiry (httpx: 5 s, our links: 2 s), so a
# client never sends a request on a connection the server is closing at that moment.
KEEP_ALIVE_SECONDS = 30
# A write hops between threads (request -> replication link -> request); with the default
# 5 ms GIL switch interval each hop can stall that long behind a busy thread.
GIL_SWITCH_INTERVAL_SECONDS = 0.0005


def main(argv: list[str] | None = None) -> int:
    """Check the environment, parse settings, build the app, serve until SIGTERM/SIGINT."""
    try:
        ENV_CONTRACT.check(os.environ)
    except UnknownVariableError as exc:
        print(f"invalid unit settings: {exc}", file=sys.stderr)
        return 2
    try:
        settings = CliApp.run(UnitSettings, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        print(f"invalid unit settings:\n{exc}", file=sys.stderr)
        return 2
    context = LogContext("unit", site=settings.site, unit=settings.unit)
    try:
        configure_logging(context, settings.log_level)
    except ValueError as exc:
        print(f"invalid unit settings: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per shipment is noise
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    try:
        tls = uvicorn_options()  # a site-to-site listener: TLS when the process has a TLS dir
        app = create_app(settings)
    except (ValueError, OSError) as exc:
        print(f"cannot start the unit service: {exc}", file=sys.stderr)
        return 2
    node: Node = app.state.service.node
    # Until start() loads the stored role the node holds a placeholder at epoch 0, which
    # is no epoch of this unit: null in the logs. Read on every record: Node.role is one
    # read of an immutable value, so no lock is taken on the log path (a record may be
    # written while the node holds its own).
    placeholder = node.role
    context.epoch = lambda: None if node.role is placeholder else node.role.epoch
    serve(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # configure_logging routes uvicorn's records through ours
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **tls,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
