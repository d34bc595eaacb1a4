"""Wire an observer process: probe this site's view of the world, publish to etcd."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from pydantic_settings import BaseSettings, SettingsConfigDict

from failover.dcs import EtcdDcs, Keys
from failover.observer.addresses import AddressError, load_site_settings
from failover.observer.observer import Observer
from failover.observer.probes import Prober
from failover.observer.publisher import ReportPublisher
from failover.topology import TopologyError


class ObserverSettings(BaseSettings):
    """One site's observer. Same variables as the controller's where they overlap."""

    model_config = SettingsConfigDict(env_prefix="WATERTIGHT_", extra="ignore", frozen=True)

    site: str
    topology: Path | None = None
    etcd_endpoints: tuple[str, ...] = ()
    addresses: Path | None = None
    addresses_json: str | None = None
    log_level: str = "INFO"


def build_observer(settings: ObserverSettings) -> Observer:
    """Raises ``TopologyError``/``AddressError``/``ValueError`` on bad settings."""
    topology, addresses = load_site_settings(settings)
    timing = topology.timing
    dcs = EtcdDcs(list(settings.etcd_endpoints), timeout=timing.probe_timeout_seconds * 2)
    publisher = ReportPublisher(dcs, Keys(topology.name), settings.site, timing, time.sleep)
    prober = Prober(timing, sleep=time.sleep)
    return Observer(
        settings.site, addresses, prober, publisher, interval=timing.probe_interval_seconds
    )


def main() -> int:
    try:
        settings = ObserverSettings()
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        observer = build_observer(settings)
    except (TopologyError, AddressError, ValueError, OSError) as exc:
        print(f"observer: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        observer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("failover.observer").info("observer of %s running", settings.site)
    observer.run()
    return 0
