"""The environment Kubernetes gives a container, resolved the way the kubelet resolves it.

Every runtime calls :func:`container_env` (the process runtime through ``container_config``,
the podman runtime directly), so a pod sees the same variables whatever runs it; the engine
calls it too, to see whether a pod waiting for a ConfigMap would start now. It is the manifest's
meaning (pure but for the node's capacity), not a runtime's, so it lives with the manifests and
neither the engine nor a runtime has to import the other. Lowest
precedence first:

1. a minimal base (``PATH``, ``HOME``, ``HOSTNAME`` = the pod's name) — never the daemon's own
   environment (a token in the daemon's environment is not the pods' business); podman uses
   the image's environment instead and passes ``base=None``;
2. the Kubernetes service variables of the pod's namespace (``WEB_SERVICE_HOST``,
   ``WEB_SERVICE_PORT``, ``WEB_PORT_80_TCP_ADDR``, ...), as the kubelet adds them;
3. the pod's own variables (``PORT``, ``PORT_<NAME>``, ``POD_NAME``, ``POD_IP``, ``IMAGE``...);
4. ``envFrom`` in order (``prefix`` prepended; keys that are not variable names skipped);
5. ``env`` in order: ``value`` with ``$(VAR)`` expansion against everything above and earlier
   entries, or ``valueFrom`` (``configMapKeyRef``, ``secretKeyRef``, ``fieldRef``,
   ``resourceFieldRef``).

A missing ConfigMap, Secret or key that is not ``optional`` raises ``ConfigError`` with the
kubelet's message; the container then waits in ``CreateContainerConfigError``.

>>> from reconciler.runtime import PodConfig
>>> facts = PodFacts(name="web-1", namespace="default", labels={"app": "web"})
>>> env = container_env({"name": "web", "envFrom": [{"configMapRef": {"name": "cfg"},
...     "prefix": "APP_"}], "env": [{"name": "URL", "value": "http://$(APP_HOST)/"}]},
...     pod=facts, config=PodConfig(config_maps={"cfg": {"HOST": b"db"}}), variables={})
>>> env["APP_HOST"], env["URL"]
('db', 'http://db/')
>>> container_env({"name": "web", "env": [{"name": "K", "valueFrom": {"configMapKeyRef":
...     {"name": "cfg", "key": "nope"}}}]}, pod=facts,
...     config=PodConfig(config_maps={"cfg": {}}), variables={})
Traceback (most recent call last):
...
reconciler.manifests.podenv.ConfigError: couldn't find key nope in ConfigMap default/cfg
"""

from __future__ import annotations

import math
import os
import re
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.manifests.expand import expand
from reconciler.runtime import PodConfig

__all__ = [
    "DEFAULT_PATH",
    "ConfigError",
    "PodFacts",
    "base_environment",
    "container_env",
    "parse_quantity",
    "service_variables",
]

# what containerd and CRI-O give a container whose image sets no PATH
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ConfigError(Exception):
    """The container cannot be created from its spec (``CreateContainerConfigError``)."""


@dataclass(frozen=True, slots=True)
class PodFacts:
    """What the downward API (``fieldRef``) and ``resourceFieldRef`` may read of a pod."""

    name: str
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod_ip: str = "127.0.0.1"
    host_ip: str = "127.0.0.1"
    node_name: str = ""
    service_account: str = "default"
    containers: Sequence[Mapping[str, Any]] = ()  # the pod spec's, for resourceFieldRef

    @property
    def uid(self) -> str:
        """Stable for the pod's life (the runtime keeps no other uid)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"reconciler:pod/{self.namespace}/{self.name}"))


def base_environment(pod_name: str, *, home: str | None = None) -> dict[str, str]:
    """PATH, HOME and HOSTNAME, as a container without an image environment gets them."""
    if home is None:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):  # pragma: no cover - a uid without a passwd entry
            home = "/"
    return {"PATH": DEFAULT_PATH, "HOME": home, "HOSTNAME": pod_name}


def service_variables(
    services: Sequence[tuple[str, str, Sequence[tuple[str, int, str]]]],
) -> dict[str, str]:
    """The docker-links style variables of each Service: (name, host, [(port name, port, proto)]).

    >>> found = service_variables([("web-api", "127.0.0.1", [("http", 8080, "TCP")])])
    >>> found["WEB_API_SERVICE_HOST"], found["WEB_API_SERVICE_PORT_HTTP"], found["WEB_API_PORT"]
    ('127.0.0.1', '8080', 'tcp://127.0.0.1:8080')
    """
    out: dict[str, str] = {}
    for name, host, ports in services:
        if not ports:
            continue
        prefix = name.upper().replace("-", "_")
        out[f"{prefix}_SERVICE_HOST"] = host
        first = ports[0]
        out[f"{prefix}_SERVICE_PORT"] = str(first[1])
        for port_name, port, _ in ports:
            if port_name:
                out[f"{prefix}_SERVICE_PORT_{port_name.upper().replace('-', '_')}"] = str(port)
        out[f"{prefix}_PORT"] = f"{first[2].lower()}://{host}:{first[1]}"
        for _, port, protocol in ports:
            base = f"{prefix}_PORT_{port}_{protocol.upper()}"
            out[base] = f"{protocol.lower()}://{host}:{port}"
            out[f"{base}_PROTO"] = protocol.lower()
            out[f"{base}_PORT"] = str(port)
            out[f"{base}_ADDR"] = host
    return out


_SUFFIXES: dict[str, Decimal | int] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def parse_quantity(value: object) -> Decimal:
    """A Kubernetes quantity as a number: ``"500m"`` -> 0.5, ``"64Mi"`` -> 67108864.

    >>> parse_quantity("500m"), parse_quantity("64Mi"), parse_quantity(2), parse_quantity("1e3")
    (Decimal('0.500'), Decimal('67108864'), Decimal('2'), Decimal('1E+3'))
    """
    text = str(value).strip()
    match = re.fullmatch(
        r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)", text
    )
    if match is None:
        raise ConfigError(f"quantities must match the regular expression: {text!r} does not")
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIXES[match.group(2)])
    except InvalidOperation:
        raise ConfigError(f"invalid quantity {text!r}") from None


def _node_capacity(resource: str) -> Decimal:
    if resource.endswith("cpu"):
        return Decimal(os.cpu_count() or 1)
    if resource.endswith("memory"):
        try:
            with open("/proc/meminfo", encoding="ascii") as meminfo:
                for line in meminfo:
                    if line.startswith("MemTotal:"):
                        return Decimal(int(line.split()[1]) * 1024)
        except OSError:  # pragma: no cover - not Linux
            pass
        return Decimal(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    try:
        stat = os.statvfs("/")
        return Decimal(stat.f_bavail * stat.f_frsize)
    except OSError:  # pragma: no cover
        return Decimal(0)


def _resource_field(ref: Mapping[str, Any], *, own: str, pod: PodFacts) -> str:
    """``resourceFieldRef``: the container's limit or request in ``divisor`` units, rounded up;
    a limit that is not set is the node's capacity, a request that is not set its limit or 0."""
    resource = str(ref.get("resource", ""))
    target = str(ref.get("containerName") or own)
    container = next((c for c in pod.containers if c.get("name") == target), None)
    if container is None:
        raise ConfigError(f"container {target!r} not found in pod {pod.namespace}/{pod.name}")
    which, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(which) or {}).get(name)
    if value is None and which == "requests":
        value = (resources.get("limits") or {}).get(name)
        amount = parse_quantity(value) if value is not None else Decimal(0)
    elif value is None:
        amount = _node_capacity(name)
    else:
        amount = parse_quantity(value)
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        raise ConfigError(f"resourceFieldRef {resource}: divisor must be positive")
    return str(math.ceil(amount / divisor))


def _field_ref(path: str, *, pod: PodFacts) -> str:
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.node_name or socket.gethostname(),
        "spec.serviceAccountName": pod.service_account,
        "status.podIP": pod.pod_ip,
        "status.podIPs": pod.pod_ip,
        "status.hostIP": pod.host_ip,
        "status.hostIPs": pod.host_ip,
    }
    if path in simple:
        return simple[path]
    match = _SUBSCRIPT.match(path)
    if match is not None:
        source = pod.labels if match.group(1) == "labels" else pod.annotations
        return str(source.get(match.group(2), ""))
    raise ConfigError(f'unsupported fieldPath "{path}"')


def _text(value: bytes) -> str:
    # the kubelet passes the bytes as they are; surrogateescape keeps non-UTF-8 bytes intact
    return value.decode("utf-8", errors="surrogateescape")


def _lookup(
    kind: str, name: str, *, config: PodConfig, namespace: str, optional: bool
) -> Mapping[str, bytes] | None:
    found = (config.config_maps if kind == "ConfigMap" else config.secrets).get(name)
    if found is None and not optional:
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return found


def _key_ref(kind: str, ref: Mapping[str, Any], *, config: PodConfig, namespace: str) -> str | None:
    """The value of a configMapKeyRef/secretKeyRef; None when optional and missing."""
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    optional = bool(ref.get("optional"))
    values = _lookup(kind, name, config=config, namespace=namespace, optional=optional)
    if values is None:
        return None
    if key not in values:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return _text(values[key])


def container_env(
    container: Mapping[str, Any],
    *,
    pod: PodFacts,
    config: PodConfig,
    variables: Mapping[str, str],
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment (see the module docstring for the order)."""
    # ``$(VAR)`` expands against what the pod declares, never against the base (the kubelet
    # does not expand against the image's or the node's environment either)
    env: dict[str, str] = dict(config.services)
    env.update(variables)
    for item in container.get("envFrom") or []:
        if not isinstance(item, Mapping):
            continue
        prefix = str(item.get("prefix") or "")
        for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = item.get(field_name)
            if not isinstance(ref, Mapping):
                continue
            values = _lookup(
                kind,
                str(ref.get("name", "")),
                config=config,
                namespace=pod.namespace,
                optional=bool(ref.get("optional")),
            )
            for key, raw in sorted((values or {}).items()):
                if _ENV_NAME.match(prefix + key):  # the kubelet skips the others
                    env[prefix + key] = _text(raw)
    own = str(container.get("name", ""))
    for item in container.get("env") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        key = str(item["name"])
        source = item.get("valueFrom")
        value: str | None
        if isinstance(source, Mapping):
            if isinstance(source.get("configMapKeyRef"), Mapping):
                value = _key_ref(
                    "ConfigMap", source["configMapKeyRef"], config=config, namespace=pod.namespace
                )
            elif isinstance(source.get("secretKeyRef"), Mapping):
                value = _key_ref(
                    "Secret", source["secretKeyRef"], config=config, namespace=pod.namespace
                )
            elif isinstance(source.get("fieldRef"), Mapping):
                value = _field_ref(str(source["fieldRef"].get("fieldPath", "")), pod=pod)
            elif isinstance(source.get("resourceFieldRef"), Mapping):
                value = _resource_field(source["resourceFieldRef"], own=own, pod=pod)
            else:
                raise ConfigError(f"env {key}: valueFrom has no source this runtime resolves")
            if value is None:  # an optional reference to what does not exist: left unset
                continue
        else:
            value = expand(str(item.get("value", "")), env)
        env[key] = value
    return {**(base or {}), **env}
