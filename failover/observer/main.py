"""Wire an observer process: probe this site's view of the world, publish to etcd.

A ``WATERTIGHT_*`` variable the observer does not read stops it at start (exit 2).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from failover.dcs import EtcdDcs, Keys
from failover.env_contract import EnvContract, UnknownVariableError
from failover.log_format import LOG_FORMAT_VARIABLE, LogContext, configure_logging
from failover.observer.addresses import AddressError, load_site_settings
from failover.observer.observer import Observer
from failover.observer.probes import Prober
from failover.observer.publisher import ReportPublisher
from failover.tls import ENV as TLS_ENV
from failover.topology import TopologyError


class ObserverSettings(BaseSettings):
    """One site's observer. Same variables as the controller's where they overlap."""

    # pydantic-settings never treats an unknown environment variable as extra, not even
    # with extra="forbid": ENV_CONTRACT's check at start refuses those instead.
    model_config = SettingsConfigDict(env_prefix="WATERTIGHT_", extra="ignore", frozen=True)

    site: str
    topology: Path | None = None
    etcd_endpoints: tuple[str, ...] = ()
    addresses: Path | None = None
    addresses_json: str | None = None
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Where ``/metrics`` is served (on ``host``); unset: nowhere."""


ENV_CONTRACT = EnvContract(
    "python -m failover.observer",
    ObserverSettings,
    also_reads=frozenset({LOG_FORMAT_VARIABLE, TLS_ENV}),
    needs_one_of=(
        frozenset({"WATERTIGHT_ETCD_ENDPOINTS"}),
        frozenset({"WATERTIGHT_ADDRESSES", "WATERTIGHT_ADDRESSES_JSON"}),
    ),
)
"""What the observer reads from the environment (the fields above and the log format) and what it
refuses to start without: etcd and the site's address map."""


def build_observer(settings: ObserverSettings) -> Observer:
    """Raises ``TopologyError``/``AddressError``/``ValueError`` on bad settings."""
    topology, addresses = load_site_settings(settings)
    timing = topology.timing
    dcs = EtcdDcs(list(settings.etcd_endpoints), timeout=timing.probe_timeout_seconds * 2)
    publisher = ReportPublisher(dcs, Keys(topology.name), settings.site, timing, time.sleep)
    prober = Prober(timing)
    return Observer(
        settings.site, addresses, prober, publisher, interval=timing.probe_interval_seconds
    )


def main() -> int:
    try:
        ENV_CONTRACT.check(os.environ)
        settings = ObserverSettings()
        configure_logging(LogContext("observer", site=settings.site), settings.log_level)
        observer = build_observer(settings)
        if settings.metrics_port is not None:
            observer.metrics.serve(settings.host, settings.metrics_port)
    except (UnknownVariableError, TopologyError, AddressError, ValueError, OSError) as exc:
        print(f"observer: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        observer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("failover.observer").info("observer of %s running", settings.site)
    observer.run()
    return 0
