"""Services as the daemon runs them: one proxy listener per port, and who stands behind it.

The router keeps what the proxy must know, and nothing else:
- the bound Services (their defaulted specs) and which of their ports actually listen (a taken
  port is reported, not fatal);
- the traffic groups of each Deployment's last plan (a blue/green's active and preview, a
  canary's stable and canary weights), by Service name;
- the pods that are leaving: a pod is taken out of the endpoints *before* it is signalled, and
  stays out until it is gone.

``refresh()`` recomputes every listener's backends from the runtime's pods (``endpoints.py``
does the arithmetic) and hands them to the proxy, which swaps them atomically.

After a restart the traffic groups are not known until each Deployment's first pass (a
blue/green's active Service must not send new connections to the preview pods meanwhile, nor
a canary's Service lose its weights). Until then (``await_routes``), a Service of a namespace
with such a Deployment keeps the backends the proxy already serves (the data plane kept the
previous daemon's), minus every endpoint whose pod is no longer Ready or is leaving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.engine.model import TrafficGroup
from reconciler.log import get_logger
from reconciler.objects import ObjectRef
from reconciler.proxy import BackendGroup, ListenerSpec, Proxy
from reconciler.runtime import PodStatus, Runtime
from reconciler.services.endpoints import port_name, service_backends
from reconciler.store import AppliedObject

log = get_logger(component="services")

Routes = Mapping[str, tuple[TrafficGroup, ...]]


def listener_specs(obj: AppliedObject, *, bind: str) -> dict[str, ListenerSpec]:
    """One listener per port of a defaulted Service, by port name (or number).

    A port with ``appProtocol: http`` is proxied request by request; there the ClientIP
    affinity timeout becomes the Max-Age of the version cookie (a client behind a NAT or
    another proxy keeps its version too). Other ports, and other protocols, stay TCP.
    """
    spec = obj.spec["spec"]
    timeout = None
    if spec.get("sessionAffinity") == "ClientIP":
        timeout = float(spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"])
    key = obj.ref.namespaced
    return {
        port_name(port): ListenerSpec(
            service=key,
            port_name=port_name(port),
            bind=bind,
            port=int(port["port"]),
            affinity_timeout=timeout,
            protocol=_protocol(port),
        )
        for port in spec.get("ports") or []
    }


def _protocol(port: Mapping[str, Any]) -> str:
    """``http`` for ``appProtocol: http`` (IANA names are case-insensitive), else ``tcp``."""
    app = port.get("appProtocol")
    return "http" if isinstance(app, str) and app.lower() == "http" else "tcp"


class ServiceRouter:
    def __init__(
        self,
        *,
        proxy: Proxy,
        runtime: Runtime,
        bind: str,
        on_listen_failed: Callable[[ObjectRef, str], None],
    ) -> None:
        self.proxy = proxy
        self.runtime = runtime
        self.bind_address = bind
        self.on_listen_failed = on_listen_failed
        self._listening: dict[ObjectRef, set[str]] = {}  # ports that listen
        self._specs: dict[ObjectRef, dict[str, Any]] = {}  # defaulted, as bound
        self._routes: dict[ObjectRef, Routes] = {}  # deployment -> its plan's traffic
        self._leaving: set[str] = set()
        self._awaiting: set[ObjectRef] = set()  # deployments without a pass since the start

    def is_bound(self, ref: ObjectRef) -> bool:
        return ref in self._listening

    async def bind(self, ref: ObjectRef, obj: AppliedObject | None) -> None:
        """Make the listeners match the Service (``None``: it is gone)."""
        key = ref.namespaced
        wanted = listener_specs(obj, bind=self.bind_address) if obj is not None else {}
        for name in self._listening.get(ref, set()) - set(wanted):
            await self.proxy.remove_listener(key, name)
        listening: set[str] = set()
        for name, spec in wanted.items():
            try:
                await self.proxy.ensure_listener(spec)
                listening.add(name)
            except Exception as exc:  # a taken port must not stop the daemon
                message = f"cannot listen on {spec.bind}:{spec.port}: {exc}"
                log.warning("listen_failed", service=key, port=spec.port, error=str(exc))
                self.on_listen_failed(ref, message)
        if obj is None:
            self._listening.pop(ref, None)
            self._specs.pop(ref, None)
        else:
            self._listening[ref] = listening
            self._specs[ref] = obj.spec
        self.refresh()

    def await_routes(self, deployments: Iterable[ObjectRef]) -> None:
        """At start: these deployments' traffic groups come with their first pass."""
        self._awaiting.update(deployments)

    def route(self, deployment: ObjectRef, routes: Routes | None) -> None:
        """The traffic groups of a deployment's latest plan (``None``: it is gone)."""
        self._awaiting.discard(deployment)
        if routes is None:
            self._routes.pop(deployment, None)
        else:
            self._routes[deployment] = routes

    def leaving(self, pod: str) -> None:
        """Out of every endpoint list now, before the pod is signalled."""
        self._leaving.add(pod)
        self.refresh()

    def pod_changed(self, pod: PodStatus) -> None:
        if pod.terminating:
            self._leaving.add(pod.name)
        self.refresh()
        if pod.gone:
            self._leaving.discard(pod.name)

    def _groups_for(self, ref: ObjectRef) -> tuple[TrafficGroup, ...] | None:
        for owner, routes in self._routes.items():
            if owner.namespace == ref.namespace and ref.name in routes:
                return routes[ref.name]
        return None

    def refresh(self) -> None:
        pods = [p for p in self.runtime.pods() if p.name not in self._leaving]
        waiting = {d.namespace for d in self._awaiting}
        for ref, ports in self._listening.items():
            backends = service_backends(self._specs[ref], pods, self._groups_for(ref))
            key = ref.namespaced
            for name, groups in backends.items():
                if name not in ports:
                    continue
                if ref.namespace in waiting:
                    groups = self._kept(key, name, pods) or groups
                self.proxy.set_backends(key, name, groups)

    def _kept(self, key: str, port: str, pods: list[PodStatus]) -> tuple[BackendGroup, ...] | None:
        """What the port serves now, without the endpoints of pods that stopped serving;
        None if nothing of it is left (then the backends are computed as usual)."""
        serving = {p.name for p in pods if p.ready and not p.terminating}
        kept = tuple(
            replace(g, endpoints=tuple(e for e in g.endpoints if e.pod in serving))
            for g in self.proxy.backends(key, port)
        )
        return kept if any(g.endpoints for g in kept) else None
