"""Typed configuration of one stack (one site), read from ``Pulumi.<stack>.yaml``.

Keys live in the ``watertight`` namespace, e.g. ``watertight:site``. The credentials are not
part of this model: they are one Pulumi secret, a JSON object with one key per role
(``pulumi config set --secret watertight:credentials < credentials.json``; keys
``replication``, ``admin``, ``operator``, ``approvers``, docs/security.md), read as an
``Output`` so they never appear in clear, and identical in all three stacks because
replication and admin calls cross sites.

Nor is the optional TLS material: one Pulumi secret ``watertight:tls``, a JSON object
with the keys of a ``kubernetes.io/tls`` Secret, ``ca.crt``, ``tls.crt`` and ``tls.key``
(PEM). Unlike the credentials it differs per stack: each site presents its own
certificate, all issued by the one CA. Setting it switches the site to mutual TLS, and
then every site-to-site URL of this model must be ``https://``
(:func:`check_tls_urls`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.pulumi.site_values import SiteEndpoints

PROJECT_DIR = Path(__file__).resolve().parent
PLAIN_KEYS = (
    "site",
    "kubeContext",
    "namespace",
    "topologyFile",
    "image",
    "imagePullPolicy",
    "serviceType",
)
"""String keys of ``watertight:<key>``."""
OBJECT_KEYS = ("advertise", "peers")
"""Structured keys (YAML mappings in the stack file)."""


class StackConfigError(ValueError):
    """The stack configuration is unusable; the message names the key and the fix."""


class StackConfig(BaseModel):
    """What one site's stack needs. Relative paths are relative to the project directory."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    site: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")]
    kube_context: Annotated[str, Field(alias="kubeContext", min_length=1)]
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] = "watertight"
    topology_file: Annotated[Path, Field(alias="topologyFile")] = Path("../../topology.yaml")
    image: Annotated[str, Field(min_length=1)] = "watertight:dev"
    image_pull_policy: Annotated[
        Literal["IfNotPresent", "Always", "Never"], Field(alias="imagePullPolicy")
    ] = "IfNotPresent"
    service_type: Annotated[
        Literal["ClusterIP", "NodePort", "LoadBalancer"], Field(alias="serviceType")
    ] = "NodePort"
    advertise: SiteEndpoints
    peers: dict[str, SiteEndpoints]

    def topology_path(self) -> Path:
        return (PROJECT_DIR / self.topology_file).resolve()

    def image_repository_and_tag(self) -> tuple[str, str]:
        repository, _, tag = self.image.rpartition(":")
        if not repository or "/" in tag:
            return self.image, "latest"
        return repository, tag


def site_to_site_urls(config: StackConfig) -> dict[str, str]:
    """Every URL one site's programs dial another site's listeners at, by config key.
    Not ``routerUrl``: the router's listener is customer-facing and stays plain HTTP
    (customer TLS ends at the bank's load balancer)."""
    urls: dict[str, str] = {}
    sites = {"advertise": config.advertise} | {f"peers.{s}": e for s, e in config.peers.items()}
    for where, endpoints in sites.items():
        values = endpoints.as_peer_values()
        for key in ("unitUrlTemplate", "etcdPeerUrl", "etcdClientUrl", "controllerUrl"):
            urls[f"{where}.{key}"] = values[key]
    return urls


def check_tls_urls(config: StackConfig, stack: str, tls: bool) -> None:
    """Refuse a stack whose URLs do not match its TLS setting, naming the first key.

    With ``watertight:tls`` the unit, controller and etcd listeners speak only TLS, so an
    ``http://`` URL could never be answered; without it the site has no certificate, so
    an ``https://`` URL could never present one (the other sites require it). Both are
    refused before anything is rendered, in this stack's own words.
    """
    wanted = "https://" if tls else "http://"
    for key, url in site_to_site_urls(config).items():
        if not url.startswith(wanted):
            reason = (
                "watertight:tls is set, so every site-to-site URL must be https://"
                if tls
                else "an https:// site-to-site URL needs watertight:tls (this site's "
                "certificate); set it or use http://"
            )
            raise StackConfigError(f"Pulumi.{stack}.yaml: watertight:{key}: {url}: {reason}")


def parse_stack_config(raw: Mapping[str, Any], stack: str) -> StackConfig:
    """Validate raw config values; errors read ``Pulumi.<stack>.yaml: watertight:<key>: ...``."""
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise StackConfigError(f"Pulumi.{stack}.yaml: watertight:{key}: {first['msg']}") from exc
