"""``python -m failover.router``: serve the router on ``WATERTIGHT_HOST:WATERTIGHT_PORT``.

A ``WATERTIGHT_*`` variable the router does not read stops it at start (exit 2).
"""

from __future__ import annotations

import os
import sys

from failover.env_contract import UnknownVariableError
from failover.http_server import serve
from failover.log_format import LogContext, configure_logging
from failover.router.addresses import AddressMap, AddressMapError
from failover.router.app import create_router_app
from failover.router.settings import ENV_CONTRACT, RouterSettings
from failover.topology import TopologyError, default_topology, load_topology

# Longer than any client's idle-connection expiry (httpx: 5 s): with uvicorn's default of
# 5 s a client could send on a connection the router was closing at that very moment and
# get a ReadError instead of an answer (seen in the 1,000-transaction platform test).
KEEP_ALIVE_SECONDS = 30
# Warnings only: the router forwards thousands of requests a second; none is worth a line.
LOG_LEVEL = "WARNING"


def main() -> int:
    try:
        ENV_CONTRACT.check(os.environ)
        # The router stands in front of every site (the GSLB's place): it has no site.
        configure_logging(LogContext("router"), LOG_LEVEL)
    except (UnknownVariableError, ValueError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 2
    settings = RouterSettings()
    try:
        topology = load_topology(settings.topology) if settings.topology else default_topology()
        if settings.address_map is not None:
            addresses = AddressMap.from_file(settings.address_map)
        else:
            addresses = AddressMap(table={}, template=settings.unit_url_template)
    except (TopologyError, AddressMapError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 2
    if not addresses.table and addresses.template is None:
        # Without either, the router would start and fail every forwarded request.
        print(
            "router: set WATERTIGHT_ADDRESS_MAP (file) or WATERTIGHT_UNIT_URL_TEMPLATE: "
            "nothing says where the unit instances are",
            file=sys.stderr,
        )
        return 2
    if not settings.etcd_endpoints:
        print(
            "router: WATERTIGHT_ETCD_ENDPOINTS is required (routes live in etcd)", file=sys.stderr
        )
        return 2
    from failover.router.etcd_source import EtcdRoutes  # noqa: PLC0415 - needs etcd only here

    routes = EtcdRoutes(topology, list(settings.etcd_endpoints))
    app = create_router_app(topology, routes, addresses)
    serve(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # configure_logging routes uvicorn's records through ours
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
