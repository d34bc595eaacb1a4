"""Chart values for one site, derived from the topology (the source of truth).

Pure: no I/O. ``charts/watertight/values-<site>.yaml`` and the Pulumi stacks both come
from :func:`chart_values`, so the chart never carries a topology that differs from
``topology.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from failover.tls import scheme
from failover.topology import Topology

URL_PATTERN = r"^https?://\S+$"
Url = Annotated[str, Field(pattern=URL_PATTERN)]

KIND_NETWORK = "watertight-kind"
"""The one Docker network all three kind clusters' nodes join (KIND_EXPERIMENTAL_DOCKER_NETWORK)."""
KIND_NETWORK_CIDR = "172.30.0.0/16"
"""Its subnet, fixed at creation so NetworkPolicies can name the other sites' nodes."""
KIND_PORTS = {"etcd_client": 32379, "etcd_peer": 32380, "router": 30080, "controller": 30090}
KIND_UNIT_NODE_PORT_BASE = 30100


class SiteEndpoints(BaseModel):
    """How the other sites reach one site: what it advertises, what its peers dial.

    ``unit_url_template`` may contain ``{unit}`` (unit name) and ``{nodePort}`` (unit
    NodePort: ``units.service.nodePortBase`` + the unit's index in the topology).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    unit_url_template: Annotated[Url, Field(alias="unitUrlTemplate")]
    etcd_peer_url: Annotated[Url, Field(alias="etcdPeerUrl")]
    etcd_client_url: Annotated[Url, Field(alias="etcdClientUrl")]
    controller_url: Annotated[Url, Field(alias="controllerUrl")]
    router_url: Annotated[Url, Field(alias="routerUrl")]
    cidrs: tuple[str, ...] = ()

    def as_peer_values(self) -> dict[str, Any]:
        """The ``peerSites.<site>`` entry of the chart values (the router URL is not used)."""
        return {
            "unitUrlTemplate": self.unit_url_template,
            "etcdPeerUrl": self.etcd_peer_url,
            "etcdClientUrl": self.etcd_client_url,
            "controllerUrl": self.controller_url,
            "cidrs": list(self.cidrs),
        }


def topology_document(topology: Topology) -> dict[str, Any]:
    """The topology as the chart's ``topology`` value, in the topology file's own format
    (it is mounted as every process's topology file and must load with
    :func:`failover.topology.parse_topology`).

    Every unit's bucket ranges and first primary are written out; its standbys are not a
    field of the file (every unit has one in each other site, ``Topology.standbys_of``).
    ``replication``, ``network``, ``timing``, ``policy`` and ``trends`` are written with
    every default filled in: a section left out would silently run on defaults.
    """
    return {
        "name": topology.name,
        "buckets": topology.buckets,
        "sites": [{"name": s.name, "city": s.city, "role": s.role.value} for s in topology.sites],
        "units": [
            {
                "name": unit,
                "buckets": ",".join(str(r) for r in topology.bucket_ranges[unit]),
                "primary": topology.placements[unit].primary,
            }
            for unit in topology.units
        ],
        "replication": topology.replication.model_dump(),
        "network": topology.network.model_dump(),
        "timing": topology.timing.model_dump(),
        "policy": topology.policy.model_dump(),
        "trends": topology.trends.model_dump(),
    }


def kind_endpoints(site: str, *, tls: bool = False) -> SiteEndpoints:
    """Endpoints of ``site`` in the kind rehearsal: NodePorts on its control-plane node.

    The node container is ``<site>-control-plane`` on the shared ``kind`` Docker network,
    so every cluster's pods reach it by that name (Docker's embedded DNS). With ``tls``
    the site-to-site URLs are ``https://``; the router's stays ``http://`` (its
    customer-facing listener is plain, customer TLS ends at the bank's load balancer).
    """
    node = f"{scheme(tls)}://{site}-control-plane"
    return SiteEndpoints(
        unit_url_template=node + ":{nodePort}",
        etcd_peer_url=f"{node}:{KIND_PORTS['etcd_peer']}",
        etcd_client_url=f"{node}:{KIND_PORTS['etcd_client']}",
        controller_url=f"{node}:{KIND_PORTS['controller']}",
        router_url=f"http://{site}-control-plane:{KIND_PORTS['router']}",
        cidrs=(KIND_NETWORK_CIDR,),
    )


def node_port_values() -> dict[str, Any]:
    """Service settings that expose a site on the kind NodePorts of :data:`KIND_PORTS`."""
    return {
        "units": {"service": {"type": "NodePort", "nodePortBase": KIND_UNIT_NODE_PORT_BASE}},
        "router": {"service": {"type": "NodePort", "nodePort": KIND_PORTS["router"]}},
        "controller": {"service": {"type": "NodePort", "nodePort": KIND_PORTS["controller"]}},
        "etcd": {
            "service": {
                "type": "NodePort",
                "clientNodePort": KIND_PORTS["etcd_client"],
                "peerNodePort": KIND_PORTS["etcd_peer"],
            }
        },
    }


def chart_values(
    topology: Topology,
    site: str,
    advertise: SiteEndpoints,
    peers: Mapping[str, SiteEndpoints],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Values that deploy ``site``'s share of ``topology``.

    ``advertise`` is how the other sites reach this one (the etcd member and the controller
    advertise those URLs); ``peers`` must name every other site. ``extra`` is merged on top
    (deep merge of mappings), e.g. image or service settings.
    Raises ``ValueError`` naming the site that is unknown or missing.
    """
    if site not in topology.site_names:
        raise ValueError(
            f"unknown site {site!r}; the topology has {', '.join(topology.site_names)}"
        )
    others = [s for s in topology.site_names if s != site]
    missing = [s for s in others if s not in peers]
    unknown = [s for s in peers if s not in others]
    if missing or unknown:
        raise ValueError(
            f"peers of {site} must be exactly {', '.join(others)}; "
            f"missing: {', '.join(missing) or '-'}, unexpected: {', '.join(unknown) or '-'}"
        )
    values: dict[str, Any] = {
        "site": site,
        "topology": topology_document(topology),
        "peerSites": {name: peers[name].as_peer_values() for name in others},
        "etcd": {
            "advertisePeerUrl": advertise.etcd_peer_url,
            "advertiseClientUrl": advertise.etcd_client_url,
        },
        "controller": {"advertiseUrl": advertise.controller_url},
    }
    return deep_merge(values, extra or {})


CREDENTIALS_SECRET = "watertight-credentials"
"""Secret with the per-role credentials (keys ``replication``, ``admin``, ``operator``,
``approvers``; docs/security.md), the same in all sites; created before install."""


TLS_SECRET = "watertight-tls"
"""The site's ``kubernetes.io/tls`` Secret (``ca.crt``, ``tls.crt``, ``tls.key``): one
per site, each with that site's own certificate; created before install."""


def tls_values(enabled: bool) -> dict[str, Any]:
    """The chart's ``tls`` block: on with :data:`TLS_SECRET`, or nothing (chart default)."""
    return {"tls": {"enabled": True, "secretName": TLS_SECRET}} if enabled else {}


def kind_chart_values(topology: Topology, site: str, *, tls: bool = False) -> dict[str, Any]:
    """Values for ``site`` in the kind rehearsal (what ``values-<site>.yaml`` holds; with
    ``tls``, the same with mutual TLS between the sites and https:// addresses)."""
    peers = {s: kind_endpoints(s, tls=tls) for s in topology.site_names if s != site}
    extra = deep_merge(
        node_port_values(),
        {
            "image": {"repository": "watertight", "tag": "dev", "pullPolicy": "Never"},
            "credentials": {"existingSecret": CREDENTIALS_SECRET, "generate": False},
            **tls_values(tls),
        },
    )
    return chart_values(topology, site, kind_endpoints(site, tls=tls), peers, extra)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``top``; nested mappings merge, everything else is replaced."""
    merged = dict(base)
    for key, value in top.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
