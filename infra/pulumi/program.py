"""The Pulumi program of project ``watertight``: one stack = one site (``__main__`` runs it)."""

from __future__ import annotations

from typing import Any

import pulumi

from failover.topology import load_topology
from infra.pulumi.site_component import WatertightSite
from infra.pulumi.stack_config import (
    OBJECT_KEYS,
    PLAIN_KEYS,
    StackConfig,
    check_tls_urls,
    parse_stack_config,
)


def read_config() -> StackConfig:
    """The ``watertight:*`` config of the current stack, validated (not the secret token)."""
    config = pulumi.Config("watertight")
    raw: dict[str, Any] = {}
    for key in PLAIN_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    for key in OBJECT_KEYS:
        value = config.get_object(key)
        if value is not None:
            raw[key] = value
    return parse_stack_config(raw, pulumi.get_stack())


def run() -> None:
    """Deploy this stack's site and export its router and etcd endpoints."""
    config = read_config()
    topology = load_topology(config.topology_path())
    credentials = pulumi.Config("watertight").require_secret_object("credentials")
    # Optional: present (a secret object) switches this site to mutual TLS.
    tls = pulumi.Config("watertight").get_secret_object("tls")
    check_tls_urls(config, pulumi.get_stack(), tls is not None)
    site = WatertightSite(config.site, config, topology, credentials, tls)
    pulumi.export("site", config.site)
    pulumi.export("namespace", config.namespace)
    pulumi.export("routerEndpoint", site.router_endpoint)
    pulumi.export("controllerEndpoint", config.advertise.controller_url)
    pulumi.export("etcdClientEndpoint", config.advertise.etcd_client_url)
    pulumi.export("etcdPeerEndpoint", config.advertise.etcd_peer_url)
    pulumi.export("etcdEndpoints", site.etcd_endpoints)
    pulumi.export("unitDeployments", site.unit_deployments)
