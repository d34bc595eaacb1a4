"""Wire a controller process from :class:`ControllerSettings` and serve its API.

The site's observer is a separate process (``python -m failover.observer``). A
``WATERTIGHT_*`` variable the controller does not read stops it at start (exit 2).
"""

from __future__ import annotations

import os
import sys
import time

from failover.controller.api import create_app
from failover.controller.records import RecordStore
from failover.controller.runtime import Runtime
from failover.controller.settings import ENV_CONTRACT, ControllerSettings
from failover.controller.units import UnitAdmin
from failover.controller.wiring import assemble
from failover.dcs import EtcdDcs
from failover.env_contract import UnknownVariableError
from failover.http_server import serve
from failover.log_format import LogContext, configure_logging
from failover.observer.addresses import AddressError, load_site_settings
from failover.tls import uvicorn_options
from failover.topology import TopologyError


def build_runtime(settings: ControllerSettings) -> Runtime:
    """The real adapters. Raises ``TopologyError``/``AddressError``/``ValueError``."""
    topology, addresses = load_site_settings(settings)
    credentials = settings.credentials()
    return assemble(
        site=settings.site,
        url=settings.own_url(),
        topology=topology,
        credentials=credentials,
        addresses=addresses,
        dcs=EtcdDcs(list(settings.etcd_endpoints), timeout=1.0),
        admin=UnitAdmin(addresses, credentials, sleep=time.sleep),
        records=RecordStore(settings.records_database_url(), settings.site),
    )


def main() -> int:
    try:
        ENV_CONTRACT.check(os.environ)
        settings = ControllerSettings()
        configure_logging(LogContext("controller", site=settings.site), settings.log_level)
        tls = uvicorn_options()  # observers and operators in other sites call this API
        runtime = build_runtime(settings)
    except (UnknownVariableError, TopologyError, AddressError, ValueError, OSError) as exc:
        print(f"controller: {exc}", file=sys.stderr)
        return 2
    runtime.leadership.start()
    runtime.controller.start(runtime.topology.timing.probe_interval_seconds)
    runtime.wakeups.start()
    try:
        serve(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            log_config=None,  # configure_logging routes uvicorn's records through ours
            timeout_keep_alive=30,  # > clients' idle expiry (httpx 5 s): no reuse race
            # An open console stream would hold a graceful shutdown until the
            # supervisor's SIGKILL; cut it short instead (the page reconnects).
            timeout_graceful_shutdown=2,
            **tls,
        )
    finally:
        runtime.wakeups.stop()
        runtime.controller.stop()
        runtime.leadership.stop()
        runtime.leadership.resign()
    return 0
