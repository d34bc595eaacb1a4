"""The docker platform's three stacks: the values the Pulumi stacks deploy with, for
sites that are Docker networks instead of clusters.

Each site reaches another through the WAN network, where every Service of that site is
named ``<service>.<site>.wan`` (infra/docker/workloads.py ``wan_alias``); inside a site,
Services keep their cluster names. Services are ``ClusterIP``: a network alias reaches a
container on its own ports.
"""

from __future__ import annotations

from typing import Any

from failover.topology import Topology
from infra.docker.workloads import wan_alias
from infra.pulumi.site_values import SiteEndpoints
from infra.pulumi.stack_config import StackConfig
from infra.pulumi.stack_values import RELEASE, stack_chart_values

NAMESPACE = "watertight"
PORTS = {"unit": 8100, "router": 8080, "controller": 8090, "etcd_client": 2379, "etcd_peer": 2380}
"""The chart's default ports (values.yaml): the ones the WAN addresses name."""


def docker_endpoints(site: str) -> SiteEndpoints:
    """How the other sites reach ``site`` on the WAN network."""

    def url(service: str, port: int) -> str:
        return f"http://{wan_alias(f'{RELEASE}-{service}', site)}:{port}"

    return SiteEndpoints(
        unit_url_template=url("unit-{unit}", PORTS["unit"]),
        etcd_peer_url=url("etcd", PORTS["etcd_peer"]),
        etcd_client_url=url("etcd", PORTS["etcd_client"]),
        controller_url=url("controller", PORTS["controller"]),
        router_url=url("router", PORTS["router"]),
    )


def docker_stack(topology: Topology, site: str, image: str) -> StackConfig:
    """The stack configuration of ``site`` on the docker platform."""
    return StackConfig(
        site=site,
        kube_context="docker",
        namespace=NAMESPACE,
        image=image,
        image_pull_policy="Never",
        service_type="ClusterIP",
        advertise=docker_endpoints(site),
        peers={s: docker_endpoints(s) for s in topology.site_names if s != site},
    )


def docker_chart_values(topology: Topology, site: str, image: str) -> dict[str, Any]:
    """The chart values of ``site``: exactly what its Pulumi stack would deploy."""
    return stack_chart_values(docker_stack(topology, site, image), topology)
