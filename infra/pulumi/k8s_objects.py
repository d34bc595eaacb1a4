"""Turn rendered manifests into typed ``pulumi_kubernetes`` resources.

Each supported ``(apiVersion, kind)`` maps to its typed class, so the engine (and the
mocks in tests) see ``kubernetes:apps/v1:Deployment`` and friends. Nested fields stay in
their camelCase wire form; the SDK passes them through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

ResourceFactory = Callable[..., pulumi.CustomResource]

FACTORIES: Mapping[tuple[str, str], ResourceFactory] = {
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}


class UnsupportedObjectError(ValueError):
    """The chart rendered a kind this module has no typed resource for."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def logical_name(manifest: Mapping[str, Any]) -> str:
    """Stable, unique-per-stack Pulumi name: ``<kind>-<metadata.name>`` in lower case."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"


SKIP_AWAIT = "pulumi.com/skipAwait"
CROSS_SITE_READINESS = frozenset({"StatefulSet"})
"""Kinds whose readiness needs the other sites (the etcd member needs a quorum): waiting
for them inside one stack's ``pulumi up`` would deadlock the three stacks."""


def prepare(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as the engine should get it: cross-site-ready kinds are not awaited."""
    prepared = dict(manifest)
    if manifest.get("kind") in CROSS_SITE_READINESS:
        metadata = dict(manifest["metadata"])
        metadata["annotations"] = {**metadata.get("annotations", {}), SKIP_AWAIT: "true"}
        prepared["metadata"] = metadata
    return prepared


def create_object(
    manifest: Mapping[str, Any], namespace: str, opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Create the typed resource for one rendered manifest in ``namespace``.

    Raises :class:`UnsupportedObjectError` for kinds outside :data:`FACTORIES`, so a new
    template never slips past the typed path unnoticed.
    """
    key = (manifest.get("apiVersion", ""), manifest.get("kind", ""))
    factory = FACTORIES.get(key)
    if factory is None:
        raise UnsupportedObjectError(
            f"{key[1]} ({key[0]}) from the chart has no typed resource; add it to "
            "infra.pulumi.k8s_objects.FACTORIES"
        )
    metadata = {**manifest["metadata"], "namespace": namespace}
    fields = {
        _snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")
    }
    return factory(logical_name(manifest), opts=opts, metadata=metadata, **fields)
