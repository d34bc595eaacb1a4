"""Removing a platform's network when the engine still holds a removed container's
endpoint on it ("has active endpoints", as the 20.10 engine did in CI after a failed
start): the endpoint is dropped and the removal tried again. Pure logic: the engine is
our own port (infra/docker/engine.py), replaced here by a recording double."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.docker.engine import DockerEngine, EngineError
from infra.docker.platform import DockerPlatform


class LingeringEndpointEngine(DockerEngine):
    """Refuses to remove a network while an endpoint lingers on it."""

    def __init__(
        self,
        lingering: dict[str, list[str]],
        disconnect_works: bool = True,
        unlisted: bool = False,
    ) -> None:
        self.lingering = lingering
        self.disconnect_works = disconnect_works
        self.unlisted = unlisted
        self.calls: list[tuple[str, ...]] = []

    def remove(self, what: str, names: object) -> None:
        for name in list(names):  # type: ignore[call-overload]
            self.calls.append(("remove", what, name))
            if self.lingering.get(name):
                raise EngineError(f"network {name} has active endpoints")

    def endpoints(self, network: str) -> list[str]:
        return [] if self.unlisted else list(self.lingering.get(network, []))

    def disconnect(self, network: str, container: str) -> None:
        self.calls.append(("disconnect", network, container))
        held = self.lingering[network]
        if self.disconnect_works and container in held:
            held.remove(container)
            return
        raise EngineError(f"container {container} is not connected to network {network}")


def platform(tmp_path: Path, engine: DockerEngine) -> tuple[DockerPlatform, list[float]]:
    slept: list[float] = []
    return DockerPlatform(tmp_path, engine, sleep=slept.append), slept


def test_a_lingering_endpoint_is_disconnected_and_the_network_removed(tmp_path: Path) -> None:
    engine = LingeringEndpointEngine({"wt-x-wan": ["wt-x-production-router-0"]})
    docker, slept = platform(tmp_path, engine)
    docker._remove_network("wt-x-wan")
    assert engine.calls == [
        ("remove", "network", "wt-x-wan"),
        ("disconnect", "wt-x-wan", "wt-x-production-router-0"),
        ("remove", "network", "wt-x-wan"),
    ]
    assert len(slept) == 1


def test_a_network_that_cannot_be_freed_raises_the_engine_words_after_bounded_attempts(
    tmp_path: Path,
) -> None:
    engine = LingeringEndpointEngine({"wt-x-wan": ["ghost"]}, disconnect_works=False)
    docker, slept = platform(tmp_path, engine)
    with pytest.raises(
        EngineError, match=r"has active endpoints \(endpoints still listed: ghost\)"
    ):
        docker._remove_network("wt-x-wan", attempts=3)
    assert [c for c in engine.calls if c[0] == "remove"] == [("remove", "network", "wt-x-wan")] * 3
    assert slept == [0.5, 1.0]


def test_by_default_the_engine_gets_fourteen_seconds_to_let_go_of_an_endpoint(
    tmp_path: Path,
) -> None:
    engine = LingeringEndpointEngine({"wt-x-wan": ["ghost"]}, disconnect_works=False)
    docker, slept = platform(tmp_path, engine)
    with pytest.raises(EngineError, match="endpoints still listed: ghost"):
        docker._remove_network("wt-x-wan")
    assert sum(slept) == 14.0


def test_an_endpoint_the_engine_no_longer_lists_is_dropped_by_its_containers_name(
    tmp_path: Path,
) -> None:
    engine = LingeringEndpointEngine({"wt-x-wan": ["wt-x-gateway-dr"]}, unlisted=True)
    docker, _ = platform(tmp_path, engine)
    docker._remove_network("wt-x-wan", ["wt-x-router", "wt-x-gateway-dr"])
    assert engine.calls == [
        ("remove", "network", "wt-x-wan"),
        ("disconnect", "wt-x-wan", "wt-x-router"),
        ("disconnect", "wt-x-wan", "wt-x-gateway-dr"),
        ("remove", "network", "wt-x-wan"),
    ]


def test_named_containers_are_not_disconnected_while_the_engine_lists_the_endpoints(
    tmp_path: Path,
) -> None:
    engine = LingeringEndpointEngine({"wt-x-wan": ["wt-x-gateway-dr"]})
    docker, _ = platform(tmp_path, engine)
    docker._remove_network("wt-x-wan", ["wt-x-router", "wt-x-gateway-dr"])
    assert ("disconnect", "wt-x-wan", "wt-x-router") not in engine.calls
