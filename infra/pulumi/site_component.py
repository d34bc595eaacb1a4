"""``WatertightSite``: one site's share of the topology in its own cluster.

Children (all ``parent=self``, all through a provider bound to the stack's kubeconfig
context): the Namespace, the per-role credentials Secret, and every object the chart
renders for this site, as typed resources.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from failover.topology import Topology
from infra.pulumi.chart_render import render_chart
from infra.pulumi.k8s_objects import create_object, prepare
from infra.pulumi.site_values import (
    CREDENTIALS_SECRET,
    chart_values,
    deep_merge,
    node_port_values,
)
from infra.pulumi.stack_config import StackConfig

RELEASE = "watertight"
ROLE_KEYS = ("replication", "admin", "operator", "approvers")
"""The keys of the credentials Secret (failover/credentials.py's file names)."""
COMPONENT_TYPE = "watertight:index:Site"


def stack_chart_values(config: StackConfig, topology: Topology) -> dict[str, Any]:
    """Chart values of the stack's site: topology, peers, image, services, token Secret."""
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
        },
    )
    return chart_values(topology, config.site, config.advertise, config.peers, extra)


class WatertightSite(pulumi.ComponentResource):
    """Deploys ``config.site`` into the cluster of ``config.kube_context``."""

    router_endpoint: str
    etcd_endpoints: list[str]
    unit_deployments: list[str]

    def __init__(
        self,
        name: str,
        config: StackConfig,
        topology: Topology,
        credentials: pulumi.Output[Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        provider = k8s.Provider(
            f"{name}-cluster",
            context=config.kube_context,
            namespace=config.namespace,
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        prerequisites = _namespace_and_credentials(name, config, credentials, in_cluster)
        after = pulumi.ResourceOptions.merge(
            in_cluster, pulumi.ResourceOptions(depends_on=prerequisites)
        )
        manifests = render_chart(stack_chart_values(config, topology), RELEASE, config.namespace)
        for manifest in manifests:
            create_object(prepare(manifest), config.namespace, after)
        self.unit_deployments = [
            m["metadata"]["name"]
            for m in manifests
            if m["kind"] == "Deployment"
            and m["metadata"]["labels"].get("app.kubernetes.io/component") == "unit"
        ]
        self.router_endpoint = config.advertise.router_url
        self.etcd_endpoints = [config.advertise.etcd_client_url] + [
            config.peers[s].etcd_client_url for s in sorted(config.peers)
        ]
        self.register_outputs(
            {
                "routerEndpoint": self.router_endpoint,
                "etcdEndpoints": self.etcd_endpoints,
                "unitDeployments": self.unit_deployments,
            }
        )


def _namespace_and_credentials(
    name: str, config: StackConfig, credentials: pulumi.Output[Any], opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """The site's Namespace and the credentials Secret in it (chart objects need both):
    one key per role from the secret object ``credentials``, which must hold them all."""
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={
            "name": config.namespace,
            "labels": {
                "watertight.io/site": config.site,
                "app.kubernetes.io/part-of": "watertight",
            },
        },
        opts=opts,
    )
    token = k8s.core.v1.Secret(
        f"{name}-credentials",
        metadata={"name": CREDENTIALS_SECRET, "namespace": config.namespace},
        # Still a secret: apply keeps the secretness of require_secret_object.
        string_data=credentials.apply(_role_keys),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )
    return [namespace, token]


def _role_keys(credentials: Any) -> dict[str, str]:
    """The four role keys of the ``watertight:credentials`` object; a missing one fails
    the deployment naming it (a unit or controller would refuse to start without it)."""
    if not isinstance(credentials, dict):
        raise ValueError("watertight:credentials must be a JSON object with one key per role")
    missing = [key for key in ROLE_KEYS if not isinstance(credentials.get(key), str)]
    if missing:
        raise ValueError(f"watertight:credentials: missing {', '.join(missing)}")
    return {key: credentials[key] for key in ROLE_KEYS}
