"""Endpoints: which pods stand behind each Service port, and with what weight.

Pure. A Service selects pods by labels; only Ready pods that are not terminating are endpoints
(a pod leaves the endpoints *before* it is sent SIGTERM, because the runtime reports it as
terminating first). When a deployment's strategy routes a Service (blue/green active and
preview, canary stable and canary), the engine's traffic groups say which ReplicaSets get which
weight; otherwise every selected pod gets an equal share.

Each group says which version it serves (``version``: the pod-template-hash of its pods, "" when
they are mixed), so the proxy can keep a client on one version by cookie and the traffic
measurements can be told apart per revision; a canary's header route (``setHeaderRoute``) is a
group with ``match``, the canary's endpoints, and no weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from reconciler.labels import from_map
from reconciler.proxy import BackendGroup, Endpoint, RequestMatch
from reconciler.runtime import PodStatus

HASH_LABEL = "pod-template-hash"


class HeaderRule(Protocol):
    @property
    def header(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def kind(self) -> str: ...


class TrafficRule(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def weight(self) -> int: ...
    @property
    def replica_sets(self) -> tuple[str, ...]: ...
    @property
    def match(self) -> Sequence[HeaderRule]: ...


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """A Service selector matches when every key=value is on the pod; an empty one matches none."""
    return from_map(selector, empty_matches=False).matches(labels)


def port_name(port: Mapping[str, Any]) -> str:
    return str(port.get("name") or port["port"])


def _target(pod: PodStatus, target: object) -> Endpoint | None:
    host_port = pod.ports.get(str(target))
    if host_port is None:
        return None
    return Endpoint(pod=pod.name, host=pod.ip, port=host_port)


def version_of(pods: Iterable[PodStatus]) -> str:
    """The one pod-template-hash these pods share, or "" (none, or mixed)."""
    hashes = {pod.labels.get(HASH_LABEL, "") for pod in pods}
    return hashes.pop() if len(hashes) == 1 else ""


def _group(rule: TrafficRule, ready: Sequence[PodStatus], target: object) -> BackendGroup:
    pods = [pod for pod in ready if pod.owner in rule.replica_sets]
    version = version_of(pods)
    if not pods and len(rule.replica_sets) == 1:
        version = rule.replica_sets[0].rpartition("-")[2]  # "<deployment>-<hash>"
    return BackendGroup(
        name=rule.name,
        weight=rule.weight,
        endpoints=tuple(sorted(e for pod in pods if (e := _target(pod, target)) is not None)),
        version=version,
        match=tuple(RequestMatch(m.header, m.value, m.kind) for m in rule.match),
    )


def service_backends(
    service: Mapping[str, Any],
    pods: Iterable[PodStatus],
    traffic: Sequence[TrafficRule] | None = None,
) -> dict[str, tuple[BackendGroup, ...]]:
    """Backends of each port of a defaulted Service: ``{port name: groups}``."""
    spec = service.get("spec", {})
    namespace = service.get("metadata", {}).get("namespace", "default")
    selector = spec.get("selector")
    ready = [
        pod
        for pod in pods
        if pod.namespace == namespace
        and pod.ready
        and not pod.terminating
        and selects(selector, pod.labels)
    ]
    out: dict[str, tuple[BackendGroup, ...]] = {}
    for port in spec.get("ports") or []:
        target = port.get("targetPort", port["port"])
        if traffic:
            groups = tuple(_group(rule, ready, target) for rule in traffic)
        else:
            endpoints = tuple(sorted(e for pod in ready if (e := _target(pod, target)) is not None))
            groups = (BackendGroup("all", 1, endpoints, version=version_of(ready)),)
        out[port_name(port)] = groups
    return out
