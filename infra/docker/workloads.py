"""What each rendered workload becomes as a container: pure, from the rendered objects.

:func:`plan_site` reads the objects ``helm template`` rendered for one site (Deployments,
StatefulSets, Services, ConfigMaps, Secrets, PersistentVolumeClaims) and returns one
:class:`ContainerPlan` per pod the cluster would run, carrying exactly the pod's
command and args, environment, mounted ConfigMap and Secret contents, volumes, security
settings and readiness probe (docs/design.md §14). Nothing here knows a workload by name:
what the chart does not say, the container does not get, and what the chart says that a
container cannot do is refused with :class:`ChartContractError` naming the object and
field, because then the chart is wrong.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Objects = list[dict[str, Any]]
Secrets = Mapping[str, Mapping[str, str]]
"""Secret name → key → text: what the cluster would hold before install (the Pulumi
stacks create the credentials Secret) plus the Secrets the chart renders."""

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
SUPPORTED_VOLUMES = ("configMap", "secret", "projected", "emptyDir", "persistentVolumeClaim")


class ChartContractError(ValueError):
    """A rendered object asks for something a container cannot be given; the message
    names the object and the field at fault."""


@dataclass(frozen=True, slots=True)
class MountedFiles:
    """A ConfigMap, Secret or projected volume: files written once, mounted read-only."""

    path: str
    files: tuple[tuple[str, str], ...]
    """(file name relative to ``path``, text)."""
    mode: int


@dataclass(frozen=True, slots=True)
class Probe:
    """A readiness probe: an HTTP GET on the container's own port, or a command in it."""

    period_seconds: float
    timeout_seconds: float
    path: str = ""
    port: int = 0
    scheme: str = "HTTP"
    command: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """One pod's main container, as the docker platform runs it.

    ``volumes`` are (claim name, mount path): a PersistentVolumeClaim, or for a
    StatefulSet its ``volumeClaimTemplates`` entry named ``<template>-<set>-<index>`` as a
    cluster names it. ``aliases`` are the names the site's Services give the pod inside
    the site; ``wan_aliases`` the same names qualified by site, how the other sites reach
    it (:func:`wan_alias`).
    """

    site: str
    workload: str
    pod: str
    """``<workload>-<index>``: one per replica."""
    kind: str
    component: str
    unit: str | None
    image: str
    argv: tuple[str, ...]
    entrypoint_override: bool
    env: tuple[tuple[str, str], ...]
    mounted_files: tuple[MountedFiles, ...]
    volumes: tuple[tuple[str, str], ...]
    scratch: tuple[str, ...]
    aliases: tuple[str, ...]
    wan_aliases: tuple[str, ...]
    ports: tuple[tuple[str, int], ...]
    readiness: Probe | None
    user: str | None
    read_only_root: bool
    drop_all_capabilities: bool
    no_new_privileges: bool
    cpus: float | None
    memory_bytes: int | None


def wan_alias(service: str, site: str) -> str:
    """How other sites name a site's Service on the WAN network: ``<service>.<site>.wan``."""
    return f"{service}.{site}.wan"


def plan_site(objects: Objects, site: str, namespace: str, secrets: Secrets) -> list[ContainerPlan]:
    """One plan per pod the rendered ``objects`` of ``site`` would run: ``spec.replicas``
    of each workload (0 runs none; the chart's schema keeps a unit at 0 or 1).

    Raises :class:`ChartContractError` naming the object and field a container cannot
    honour (an unknown volume type, a Secret or ConfigMap key that does not exist, a
    Service whose port differs from its target port, ...).
    """
    config_maps = {
        o["metadata"]["name"]: dict(o.get("data") or {}) for o in _of(objects, "ConfigMap")
    }
    all_secrets = {**{k: dict(v) for k, v in secrets.items()}, **_rendered_secrets(objects)}
    claims = {o["metadata"]["name"] for o in _of(objects, "PersistentVolumeClaim")}
    services = list(_of(objects, "Service"))
    plans: list[ContainerPlan] = []
    for workload in (o for o in objects if o.get("kind") in WORKLOAD_KINDS):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        context = _Context(where, site, namespace, config_maps, all_secrets, claims)
        replicas = int(workload.get("spec", {}).get("replicas", 1))
        plans.extend(
            _plan_workload(workload, index, context, services) for index in range(replicas)
        )
    return plans


@dataclass(frozen=True, slots=True)
class _Context:
    where: str
    site: str
    namespace: str
    config_maps: Mapping[str, Mapping[str, str]]
    secrets: Mapping[str, Mapping[str, str]]
    claims: set[str]


def _plan_workload(
    workload: dict[str, Any], index: int, context: _Context, services: Objects
) -> ContainerPlan:
    pod = workload["spec"]["template"]
    pod_spec = pod["spec"]
    containers = pod_spec.get("containers") or []
    if len(containers) != 1 or pod_spec.get("initContainers"):
        raise ChartContractError(
            f"{context.where}: spec.template.spec: one container and no init containers are "
            f"supported, found {len(containers)} and {len(pod_spec.get('initContainers') or [])}"
        )
    container = containers[0]
    labels = dict(pod.get("metadata", {}).get("labels") or {})
    ports = {
        p.get("name", str(p["containerPort"])): int(p["containerPort"])
        for p in container.get("ports") or []
    }
    mounted, volumes, scratch = _mounts(workload, index, container, context)
    aliases = _service_names(services, labels, ports, context.where)
    command, args = list(container.get("command") or []), list(container.get("args") or [])
    if not command and not args:
        raise ChartContractError(f"{context.where}: the container sets neither command nor args")
    return ContainerPlan(
        site=context.site,
        workload=workload["metadata"]["name"],
        pod=f"{workload['metadata']['name']}-{index}",
        kind=workload["kind"],
        component=labels.get("app.kubernetes.io/component", ""),
        unit=labels.get("watertight.io/unit"),
        image=str(container["image"]),
        argv=tuple(str(part) for part in command + args),
        entrypoint_override=bool(command),
        env=_environment(container, context),
        mounted_files=mounted,
        volumes=volumes,
        scratch=scratch,
        aliases=_qualified(aliases, context.namespace),
        wan_aliases=tuple(wan_alias(name, context.site) for name in aliases),
        ports=tuple(sorted(ports.items())),
        readiness=_probe(container.get("readinessProbe"), ports, context.where),
        user=_user(pod_spec.get("securityContext") or {}, container.get("securityContext") or {}),
        read_only_root=bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem")),
        drop_all_capabilities="ALL"
        in ((container.get("securityContext") or {}).get("capabilities") or {}).get("drop", []),
        no_new_privileges=(container.get("securityContext") or {}).get("allowPrivilegeEscalation")
        is False,
        cpus=_cpus(container, context.where),
        memory_bytes=_memory(container, context.where),
    )


def _of(objects: Iterable[dict[str, Any]], kind: str) -> Iterable[dict[str, Any]]:
    return (o for o in objects if o.get("kind") == kind)


def _rendered_secrets(objects: Objects) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for secret in _of(objects, "Secret"):
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        found[secret["metadata"]["name"]] = {**data, **(secret.get("stringData") or {})}
    return found


def _environment(container: Mapping[str, Any], context: _Context) -> tuple[tuple[str, str], ...]:
    if container.get("envFrom"):
        raise ChartContractError(f"{context.where}: envFrom is not supported; list each variable")
    env: list[tuple[str, str]] = []
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            env.append((name, str(entry["value"])))
            continue
        source = entry.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env.append((name, _key(context.secrets, "Secret", ref, f"{context.where}: env {name}")))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env.append(
                (name, _key(context.config_maps, "ConfigMap", ref, f"{context.where}: env {name}"))
            )
        else:
            raise ChartContractError(
                f"{context.where}: env {name}: valueFrom {sorted(source)} is not supported"
            )
    return tuple(env)


def _key(
    store: Mapping[str, Mapping[str, str]], what: str, ref: Mapping[str, str], where: str
) -> str:
    name, key = ref.get("name", ""), ref.get("key", "")
    if name not in store:
        raise ChartContractError(f"{where}: {what} {name!r} does not exist")
    if key not in store[name]:
        raise ChartContractError(
            f"{where}: {what} {name!r} has no key {key!r} (keys: {', '.join(sorted(store[name]))})"
        )
    return store[name][key]


def _mounts(
    workload: Mapping[str, Any], index: int, container: Mapping[str, Any], context: _Context
) -> tuple[tuple[MountedFiles, ...], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(files to mount, claim volumes, scratch dirs) of the container's volume mounts."""
    pod_volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes") or []}
    templates = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates") or []}
    mounted: list[MountedFiles] = []
    claims: list[tuple[str, str]] = []
    scratch: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name, path = mount["name"], mount["mountPath"]
        where = f"{context.where}: volumeMounts {name}"
        if mount.get("subPath"):
            raise ChartContractError(f"{where}: subPath is not supported")
        if name in templates:
            claims.append((f"{name}-{workload['metadata']['name']}-{index}", path))
            continue
        volume = pod_volumes.get(name)
        if volume is None:
            raise ChartContractError(f"{where}: no volume of that name in the pod")
        kinds = [k for k in volume if k != "name"]
        if len(kinds) != 1 or kinds[0] not in SUPPORTED_VOLUMES:
            raise ChartContractError(
                f"{where}: volume type {kinds} is not supported ({', '.join(SUPPORTED_VOLUMES)})"
            )
        source = volume[kinds[0]]
        if kinds[0] == "emptyDir":
            scratch.append(path)
        elif kinds[0] == "persistentVolumeClaim":
            claim = source["claimName"]
            if claim not in context.claims:
                raise ChartContractError(
                    f"{where}: PersistentVolumeClaim {claim!r} is not rendered"
                )
            claims.append((claim, path))
        else:
            mounted.append(
                MountedFiles(path, _volume_files(kinds[0], source, context, where), _mode(source))
            )
    return tuple(mounted), tuple(claims), tuple(scratch)


def _volume_files(
    kind: str, source: Mapping[str, Any], context: _Context, where: str
) -> tuple[tuple[str, str], ...]:
    if kind == "projected":
        files: list[tuple[str, str]] = []
        for part in source.get("sources") or []:
            ((inner_kind, inner),) = part.items()
            if inner_kind not in ("configMap", "secret"):
                raise ChartContractError(f"{where}: projected source {inner_kind} is not supported")
            files.extend(
                _volume_files(
                    inner_kind, {**inner, "secretName": inner.get("name")}, context, where
                )
            )
        return tuple(files)
    store, what, name = (
        (context.config_maps, "ConfigMap", source.get("name", ""))
        if kind == "configMap"
        else (context.secrets, "Secret", source.get("secretName", ""))
    )
    if name not in store:
        raise ChartContractError(f"{where}: {what} {name!r} does not exist")
    items = source.get("items")
    if not items:
        return tuple(sorted(store[name].items()))
    return tuple(
        (item["path"], _key(store, what, {"name": name, "key": item["key"]}, where))
        for item in items
    )


def _mode(source: Mapping[str, Any]) -> int:
    return int(source.get("defaultMode", 0o644))


def _service_names(
    services: Objects, labels: Mapping[str, str], ports: Mapping[str, int], where: str
) -> list[str]:
    """Names of the Services selecting the pod; each must target the port it serves,
    since a network alias reaches the container's own ports and cannot remap one."""
    names: list[str] = []
    for service in services:
        selector = service.get("spec", {}).get("selector") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for port in service["spec"].get("ports") or []:
            target = port.get("targetPort", port["port"])
            number = ports.get(target) if isinstance(target, str) else int(target)
            if number != int(port["port"]):
                raise ChartContractError(
                    f"{where}: Service/{service['metadata']['name']} port {port['port']} targets "
                    f"{target!r} ({number}); a container network alias cannot remap a port"
                )
        names.append(service["metadata"]["name"])
    return names


def _qualified(names: Iterable[str], namespace: str) -> tuple[str, ...]:
    """The DNS names a cluster gives each Service inside it."""
    return tuple(
        alias
        for name in names
        for alias in (
            name,
            f"{name}.{namespace}",
            f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.cluster.local",
        )
    )


def _probe(spec: Mapping[str, Any] | None, ports: Mapping[str, int], where: str) -> Probe | None:
    if not spec:
        return None
    period, timeout = float(spec.get("periodSeconds", 10)), float(spec.get("timeoutSeconds", 1))
    if "exec" in spec:
        return Probe(period, timeout, command=tuple(spec["exec"]["command"]))
    if "httpGet" not in spec:
        raise ChartContractError(
            f"{where}: readinessProbe {sorted(spec)}: only httpGet and exec are supported"
        )
    get = spec["httpGet"]
    port = get["port"]
    number = ports.get(port) if isinstance(port, str) else int(port)
    if number is None:
        raise ChartContractError(f"{where}: readinessProbe port {port!r} is not a container port")
    return Probe(
        period, timeout, path=get.get("path", "/"), port=number, scheme=get.get("scheme", "HTTP")
    )


def _user(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    user = container.get("runAsUser", pod.get("runAsUser"))
    group = container.get("runAsGroup", pod.get("runAsGroup"))
    if user is None:
        return None
    return f"{user}:{group}" if group is not None else str(user)


def _cpus(container: Mapping[str, Any], where: str) -> float | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    if limit is None:
        return None
    text = str(limit)
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError as exc:
        raise ChartContractError(
            f"{where}: resources.limits.cpu {text!r} is not a quantity"
        ) from exc


_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _memory(container: Mapping[str, Any], where: str) -> int | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        return None
    text = str(limit)
    for suffix, factor in _BINARY_SUFFIXES.items():
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * factor
    if text.isdigit():
        return int(text)
    raise ChartContractError(f"{where}: resources.limits.memory {text!r}: use a Ki/Mi/Gi quantity")
