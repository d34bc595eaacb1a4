"""The chart values of one stack's site, from its typed configuration (no Pulumi here).

The Pulumi stacks deploy what :func:`stack_chart_values` returns, and the docker platform
(infra/docker) renders the chart with the same function, so both run the same values.
"""

from __future__ import annotations

from typing import Any

from failover.topology import Topology
from infra.pulumi.site_values import (
    CREDENTIALS_SECRET,
    chart_values,
    deep_merge,
    node_port_values,
    tls_values,
)
from infra.pulumi.stack_config import StackConfig

RELEASE = "watertight"
"""The Helm release name of every site (resource names start with it)."""


def stack_chart_values(
    config: StackConfig, topology: Topology, *, tls: bool = False
) -> dict[str, Any]:
    """Chart values of the stack's site: topology, peers, image, services, token Secret,
    and with ``tls`` the site's TLS Secret (``tls.enabled``, ``tls.secretName``)."""
    repository, tag = config.image_repository_and_tag()
    services: dict[str, Any] = (
        node_port_values()
        if config.service_type == "NodePort"
        else {
            part: {"service": {"type": config.service_type}}
            for part in ("units", "router", "controller", "etcd")
        }
    )
    extra = deep_merge(
        services,
        {
            "image": {
                "repository": repository,
                "tag": tag,
                "pullPolicy": config.image_pull_policy,
            },
            "credentials": {"existingSecret": CREDENTIALS_SECRET, "generate": False},
            **tls_values(tls),
        },
    )
    return chart_values(topology, config.site, config.advertise, config.peers, extra)
