"""A real Prometheus server for tests: started on a free loopback port with a given
configuration, queried over its HTTP API, stopped (and waited for) on exit."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from infra.local.ports import LOOPBACK, free_port


class PrometheusServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of a ``/api/v1`` answer; AssertionError (with Prometheus's error)
        when it is not a success: that is how a bad expression shows."""
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return list(data["result"]) if data["resultType"] == "vector" else [data]

    def active_targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets", state="active")["activeTargets"])

    def firing(self, alertname: str) -> list[dict[str, str]]:
        """The labels of every firing alert of that name."""
        return [
            dict(alert["labels"])
            for alert in self.api("alerts")["alerts"]
            if alert["labels"]["alertname"] == alertname and alert["state"] == "firing"
        ]


@contextmanager
def running_prometheus(
    binary: str, config: dict[str, Any], directory: Path, ready_within: float = 60.0
) -> Iterator[PrometheusServer]:
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    url = f"http://{LOOPBACK}:{free_port()}"
    log = (directory / "prometheus.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + ready_within
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"prometheus did not become ready (exit {process.poll()}): "
                    f"{(directory / 'prometheus.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield PrometheusServer(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
