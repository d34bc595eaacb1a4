"""``WatertightSite``: one site's share of the topology in its own cluster.

Children (all ``parent=self``, all through a provider bound to the stack's kubeconfig
context): the Namespace, the per-role credentials Secret, with mutual TLS the site's
``kubernetes.io/tls`` Secret, and every object the chart renders for this site, as typed
resources.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from failover.topology import Topology
from infra.pulumi.chart_render import render_chart
from infra.pulumi.k8s_objects import create_object, prepare
from infra.pulumi.site_values import CREDENTIALS_SECRET, TLS_SECRET
from infra.pulumi.stack_config import StackConfig
from infra.pulumi.stack_values import RELEASE, stack_chart_values

ROLE_KEYS = ("replication", "admin", "operator", "approvers")
"""The keys of the credentials Secret (failover/credentials.py's file names)."""
TLS_KEYS = ("ca.crt", "tls.crt", "tls.key")
"""The keys of the TLS Secret (a ``kubernetes.io/tls`` Secret with the CA, as cert-manager
writes it; failover/tls.py's file names)."""
COMPONENT_TYPE = "watertight:index:Site"


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
        tls: pulumi.Output[Any] | None = None,
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
        if tls is not None:
            prerequisites.append(_tls_secret(name, config, tls, prerequisites[0], in_cluster))
        after = pulumi.ResourceOptions.merge(
            in_cluster, pulumi.ResourceOptions(depends_on=prerequisites)
        )
        values = stack_chart_values(config, topology, tls=tls is not None)
        manifests = render_chart(values, RELEASE, config.namespace)
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


def _tls_secret(
    name: str,
    config: StackConfig,
    tls: pulumi.Output[Any],
    namespace: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """The site's ``kubernetes.io/tls`` Secret, with ``ca.crt``, from the secret object
    ``watertight:tls``; the chart mounts it into every pod (``tls.secretName``)."""
    return k8s.core.v1.Secret(
        f"{name}-tls",
        metadata={"name": TLS_SECRET, "namespace": config.namespace},
        type="kubernetes.io/tls",
        # Still a secret: apply keeps the secretness of get_secret_object.
        string_data=tls.apply(_tls_keys),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )


def _tls_keys(tls: Any) -> dict[str, str]:
    """The three keys of the ``watertight:tls`` object, each PEM; a missing or non-PEM one
    fails the deployment naming it (the pods would not start without it, and a path
    given instead of the file's contents is an easy mistake)."""
    if not isinstance(tls, dict):
        raise ValueError("watertight:tls must be a JSON object with ca.crt, tls.crt and tls.key")
    missing = [key for key in TLS_KEYS if not isinstance(tls.get(key), str)]
    if missing:
        raise ValueError(f"watertight:tls: missing {', '.join(missing)}")
    not_pem = [key for key in TLS_KEYS if "-----BEGIN " not in tls[key]]
    if not_pem:
        raise ValueError(f"watertight:tls: {', '.join(not_pem)} not PEM (give the file contents)")
    return {key: tls[key] for key in TLS_KEYS}
