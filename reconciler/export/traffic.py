"""Request-level canary traffic (#20) as Argo Rollouts' traffic routing.

Here the Service proxy itself routes requests: on a Service port with ``appProtocol: http`` a
``setWeight`` splits *requests* (not connections), and ``setHeaderRoute`` steps send matching
requests to the canary. A cluster needs a traffic router for either; without one Argo Rollouts
sets weights by pod counts (kube-proxy balances connections) and refuses a Rollout with a
``setHeaderRoute`` step (``InvalidSpec``). ``export --traffic-router`` picks the router:

* ``gatewayapi``: ``trafficRouting.plugins["argoproj-labs/gatewayAPI"] = {httpRoute, namespace}``
  (the plugin of argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi; ``namespace`` only
  when the manifest names one: the plugin defaults to the Rollout's), and an ``HTTPRoute``
  (``gateway.networking.k8s.io/v1``) attached to the Deployment's own Services (Gateway API for
  a mesh, GAMMA: requests addressed to the Service are routed) whose one rule's ``backendRefs``
  are the stable and canary Services, the rule the plugin sets weights on and clones header
  routes from. The plugin implements ``setMirrorRoute`` as a no-op, as the local proxy does.
* ``istio``: ``trafficRouting.istio.virtualService = {name, routes: [primary]}`` and a
  ``VirtualService`` (``networking.istio.io/v1beta1``) for the same hosts whose ``primary`` http
  route has the stable and canary Services as destinations.

Either way ``trafficRouting.managedRoutes`` lists every ``setHeaderRoute``/``setMirrorRoute``
name in the order the steps first use it (Argo's precedence), and the strategy must name a
``stableService`` and a ``canaryService`` (Argo edits the route between the two). With no router
named, the header and mirror steps are dropped and request weights warned about, each warning
saying which router option would keep them. A ``trafficRouting`` written in the manifest is
kept as it is.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.export.kubernetes import is_int
from reconciler.export.warnings import Path, Warnings
from reconciler.services.endpoints import selects

__all__ = [
    "GATEWAY_API_PLUGIN",
    "HTTP_ROUTE_API_VERSION",
    "ROUTE_STEPS",
    "VIRTUAL_SERVICE_API_VERSION",
    "Routing",
    "TrafficRouter",
    "route_canary",
]

GATEWAY_API_PLUGIN = "argoproj-labs/gatewayAPI"
HTTP_ROUTE_API_VERSION = "gateway.networking.k8s.io/v1"
VIRTUAL_SERVICE_API_VERSION = "networking.istio.io/v1beta1"
ROUTE_STEPS = ("setHeaderRoute", "setMirrorRoute")
_PRIMARY = "primary"  # the VirtualService http route Argo sets weights on


class TrafficRouter(enum.StrEnum):
    """``export --traffic-router``: who routes requests in the cluster."""

    GATEWAY_API = "gatewayapi"
    ISTIO = "istio"


@dataclass(frozen=True, slots=True)
class Routing:
    """The export's router (None: none named) and the folder's Services and route objects."""

    router: TrafficRouter | None = None
    services: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    """Service objects by (namespace, name)."""
    existing: frozenset[tuple[str, str, str]] = frozenset()
    """(kind, namespace, name) of every object in the folder: a route written there wins."""

    @classmethod
    def of(cls, objects: Iterable[Mapping[str, Any]], router: TrafficRouter | None) -> Routing:
        services: dict[tuple[str, str], Mapping[str, Any]] = {}
        existing: set[tuple[str, str, str]] = set()
        for obj in objects:
            metadata = obj.get("metadata") or {}
            key = (str(metadata.get("namespace") or "default"), str(metadata.get("name", "")))
            existing.add((str(obj.get("kind", "")), *key))
            if obj.get("kind") == "Service":
                services[key] = obj
        return cls(router, services, frozenset(existing))


def route_canary(
    warnings: Warnings,
    body: dict[str, Any],
    path: Path,
    *,
    routing: Routing,
    workload: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Give ``body`` (a Rollout's ``strategy.canary``) the traffic routing its steps need.

    Returns the route objects to export beside the Rollout (an HTTPRoute or a VirtualService).
    """
    if "trafficRouting" in body:
        return []
    found = body.get("steps")
    steps: list[Any] = found if isinstance(found, list) else []
    routes = _route_names(steps)
    metadata = workload.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    frontends = _frontends(workload, body, routing, namespace)
    weighted = frontends and any(_partial_weight(step) for step in steps)
    if not routes and not weighted:
        return []
    stable, canary = body.get("stableService"), body.get("canaryService")
    if routing.router is not None and not (stable and canary):
        missing = [key for key in ("stableService", "canaryService") if not body.get(key)]
        warnings.warn(
            (*path, missing[0]),
            f"Argo Rollouts routes requests between two Services: add {' and '.join(missing)} "
            f"(Services selecting the pods) to export the {routing.router} traffic routing",
        )
    if routing.router is None or not (stable and canary):
        fix = (
            "add strategy.canary.stableService and canaryService"
            if routing.router is not None
            else "export with --traffic-router gatewayapi or --traffic-router istio"
        )
        _without_router(warnings, steps, path, frontends=frontends if weighted else [], fix=fix)
        return []
    routing_spec: dict[str, Any] = {}
    if routes:
        routing_spec["managedRoutes"] = [{"name": name} for name in routes]
    name = str(metadata.get("name", ""))
    hosts = frontends or [str(stable)]
    backends = (str(stable), str(canary))
    if routing.router is TrafficRouter.GATEWAY_API:
        config: dict[str, Any] = {"httpRoute": name}
        if metadata.get("namespace"):
            config["namespace"] = str(metadata["namespace"])
        routing_spec["plugins"] = {GATEWAY_API_PLUGIN: config}
        body["trafficRouting"] = routing_spec
        route = _http_route(name, metadata, hosts, backends, routing, namespace)
        kind = "HTTPRoute"
    else:
        routing_spec["istio"] = {"virtualService": {"name": name, "routes": [_PRIMARY]}}
        body["trafficRouting"] = routing_spec
        route = _virtual_service(name, metadata, hosts, backends, routing, namespace)
        kind = "VirtualService"
        for index, step in enumerate(steps):
            if isinstance(step, dict) and "setMirrorRoute" in step:
                warnings.warn(
                    (*path, "steps", index, "setMirrorRoute"),
                    "Istio mirrors the matching requests to the canary (responses ignored); "
                    "the local proxy mirrored none",
                )
    if (kind, namespace, name) in routing.existing:
        return []
    return [route]


def _route_names(steps: Sequence[Any]) -> list[str]:
    """Every header and mirror route name, in the order the steps first use it."""
    names: list[str] = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        for kind in ROUTE_STEPS:
            route = step.get(kind)
            name = route.get("name") if isinstance(route, dict) else None
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    return names


def _partial_weight(step: object) -> bool:
    """A ``setWeight`` that splits traffic (not 0 or 100)."""
    weight = step.get("setWeight") if isinstance(step, dict) else None
    return isinstance(weight, int) and is_int(weight) and 0 < weight < 100


def _frontends(
    workload: Mapping[str, Any], body: Mapping[str, Any], routing: Routing, namespace: str
) -> list[str]:
    """The Deployment's own Services with an ``appProtocol: http`` port, sorted: those whose
    requests the local proxy splits by ``setWeight`` (not the stable or canary Service)."""
    template = (workload.get("spec") or {}).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    own = {body.get("stableService"), body.get("canaryService")}
    found = []
    for (service_namespace, name), service in routing.services.items():
        spec = service.get("spec") or {}
        if (
            service_namespace != namespace
            or name in own
            or not selects(spec.get("selector"), labels)
        ):
            continue
        if _http_port(service) is not None:
            found.append(name)
    return sorted(found)


def _http_port(service: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The Service's first ``appProtocol: http`` port."""
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    return next((p for p in ports if isinstance(p, dict) and p.get("appProtocol") == "http"), None)


def _port_of(service: Mapping[str, Any] | None) -> int | None:
    """The port a route sends to: the first http port, else the first port."""
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    port = _http_port(service) or next((p for p in ports if isinstance(p, dict)), None)
    number = port.get("port") if port is not None else None
    return number if is_int(number) else None


def _without_router(
    warnings: Warnings, steps: list[Any], path: Path, *, frontends: Sequence[str], fix: str
) -> None:
    """No router: drop the route steps Argo would refuse; warn where weights lose requests."""
    kept: list[Any] = []
    for index, step in enumerate(steps):
        kinds = [kind for kind in ROUTE_STEPS if isinstance(step, dict) and kind in step]
        if not kinds:
            kept.append(step)
            continue
        what = "route requests by header" if kinds[0] == "setHeaderRoute" else "mirror requests"
        warnings.warn(
            (*path, "steps", index, kinds[0]),
            f"dropped: Argo Rollouts refuses a {kinds[0]} step without trafficRouting "
            f"(InvalidSpec) and needs a traffic router to {what}; {fix}, or write "
            "strategy.canary.trafficRouting",
        )
    steps[:] = kept
    if frontends:
        first = next(index for index, step in enumerate(steps) if _partial_weight(step))
        names = ", ".join(frontends)
        warnings.warn(
            (*path, "steps", first, "setWeight"),
            f"here setWeight splits the requests of Service {names} (appProtocol: http); "
            "without trafficRouting Argo Rollouts sets the weight by pod counts and kube-proxy "
            f"balances connections, so a keep-alive client stays on one version; {fix}",
        )


def _route_metadata(name: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if metadata.get("namespace"):
        out["namespace"] = metadata["namespace"]
    return out


def _http_route(
    name: str,
    metadata: Mapping[str, Any],
    hosts: Sequence[str],
    backends: tuple[str, str],
    routing: Routing,
    namespace: str,
) -> dict[str, Any]:
    """An HTTPRoute attached to the Services clients call, split between stable and canary."""
    parents = []
    for host in hosts:
        parent: dict[str, Any] = {"group": "", "kind": "Service", "name": host}
        port = _port_of(routing.services.get((namespace, host)))
        if port is not None:
            parent["port"] = port
        parents.append(parent)
    refs = []
    for backend, weight in zip(backends, (100, 0), strict=True):
        ref: dict[str, Any] = {"group": "", "kind": "Service", "name": backend}
        port = _port_of(routing.services.get((namespace, backend)))
        if port is not None:
            ref["port"] = port
        refs.append({**ref, "weight": weight})
    return {
        "apiVersion": HTTP_ROUTE_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": _route_metadata(name, metadata),
        "spec": {"parentRefs": parents, "rules": [{"backendRefs": refs}]},
    }


def _virtual_service(
    name: str,
    metadata: Mapping[str, Any],
    hosts: Sequence[str],
    backends: tuple[str, str],
    routing: Routing,
    namespace: str,
) -> dict[str, Any]:
    """A VirtualService for the Services clients call, its ``primary`` route split in two."""
    destinations = []
    for backend, weight in zip(backends, (100, 0), strict=True):
        destination: dict[str, Any] = {"host": backend}
        port = _port_of(routing.services.get((namespace, backend)))
        if port is not None:
            destination["port"] = {"number": port}
        destinations.append({"destination": destination, "weight": weight})
    return {
        "apiVersion": VIRTUAL_SERVICE_API_VERSION,
        "kind": "VirtualService",
        "metadata": _route_metadata(name, metadata),
        "spec": {"hosts": list(hosts), "http": [{"name": _PRIMARY, "route": destinations}]},
    }
