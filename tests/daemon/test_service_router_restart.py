"""After a restart, a Service keeps the split the data plane serves until its Deployment's
first pass says what the split is (a blue/green's active Service never reaches the preview)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.model import TrafficGroup
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.runtime import PodPhase, PodStatus
from reconciler.services.router import ServiceRouter
from reconciler.store import AppliedObject

ACTIVE = ObjectRef(Kind.SERVICE, "default", "active")
DEPLOYMENT = ObjectRef(Kind.DEPLOYMENT, "default", "bg")
KEY = "default/active"


def pod(name: str, owner: str, port: int, *, ready: bool = True) -> PodStatus:
    return PodStatus(
        name=name,
        namespace="default",
        owner=owner,
        labels={"app": "bg"},
        phase=PodPhase.RUNNING,
        created_at=0.0,
        containers=(),
        ready=ready,
        ports={"8080": port},
    )


def service() -> AppliedObject:
    spec: dict[str, Any] = {
        "metadata": {"name": "active", "namespace": "default"},
        "spec": {
            "selector": {"app": "bg"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }
    return AppliedObject(ACTIVE, spec, spec, "bg.yaml", 1, "d", 1, 0.0, 0.0)


@dataclass
class RecordingProxy:
    """Keeps what it was given; ``kept`` is what a data plane served before this daemon."""

    kept: dict[tuple[str, str], tuple[BackendGroup, ...]] = field(default_factory=dict)
    sent: dict[tuple[str, str], tuple[BackendGroup, ...]] = field(default_factory=dict)

    async def ensure_listener(self, spec: ListenerSpec) -> None:
        pass

    async def remove_listener(self, service: str, port_name: str) -> None:
        pass

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        self.sent[(service, port_name)] = groups

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        key = (service, port_name)
        return self.sent[key] if key in self.sent else self.kept.get(key, ())

    def connection_failures(self, service: str, group: str) -> int:
        return 0

    async def configured(self) -> None:
        pass

    async def close(self) -> None:
        pass


@dataclass
class Pods:
    listed: list[PodStatus]

    def pods(self) -> list[PodStatus]:
        return list(self.listed)


BLUE, GREEN = pod("bg-blue-1", "bg-blue", 1001), pod("bg-green-1", "bg-green", 1002)


def endpoints(groups: tuple[BackendGroup, ...]) -> dict[str, list[str]]:
    return {g.name: [e.pod for e in g.endpoints] for g in groups}


def router(proxy: RecordingProxy, pods: Pods) -> ServiceRouter:
    ignore: Callable[[ObjectRef, str], None] = lambda ref, message: None  # noqa: E731
    return ServiceRouter(proxy=proxy, runtime=pods, bind="127.0.0.1", on_listen_failed=ignore)  # type: ignore[arg-type]


def test_active_service_keeps_the_data_planes_split_until_the_first_pass() -> None:
    """Blue active, green in preview, both Ready: the restarted daemon keeps sending new
    connections to blue only, drops a blue pod that stops being Ready, and takes the plan's
    groups once the first pass routes the Service."""
    served = (BackendGroup("active", 100, (Endpoint("bg-blue-1", "127.0.0.1", 1001),)),)
    proxy = RecordingProxy(kept={(KEY, "http"): served})
    pods = Pods([BLUE, GREEN])
    services = router(proxy, pods)
    services.await_routes([DEPLOYMENT])
    asyncio.run(services.bind(ACTIVE, service()))
    assert endpoints(proxy.sent[(KEY, "http")]) == {"active": ["bg-blue-1"]}  # not green

    pods.listed = [pod("bg-blue-2", "bg-blue", 1003), BLUE, GREEN]
    services.leaving("bg-blue-1")
    # nothing left of what was served: computed as usual (the plan is still unknown)
    assert endpoints(proxy.sent[(KEY, "http")]) == {"all": ["bg-blue-2", "bg-green-1"]}

    services.route(DEPLOYMENT, {"active": (TrafficGroup("active", 100, ("bg-blue",)),)})
    services.refresh()
    assert endpoints(proxy.sent[(KEY, "http")]) == {"active": ["bg-blue-2"]}


def test_kept_backends_lose_pods_that_stop_serving() -> None:
    """While the split is kept, a pod that is no longer Ready leaves it at once."""
    served = (
        BackendGroup("stable", 80, (Endpoint("bg-blue-1", "127.0.0.1", 1001),)),
        BackendGroup("canary", 20, (Endpoint("bg-green-1", "127.0.0.1", 1002),)),
    )
    proxy = RecordingProxy(kept={(KEY, "http"): served})
    pods = Pods([BLUE, GREEN])
    services = router(proxy, pods)
    services.await_routes([DEPLOYMENT])
    asyncio.run(services.bind(ACTIVE, service()))
    assert [(g.name, g.weight) for g in proxy.sent[(KEY, "http")]] == [
        ("stable", 80),
        ("canary", 20),
    ]
    pods.listed = [BLUE, pod("bg-green-1", "bg-green", 1002, ready=False)]
    services.refresh()
    assert endpoints(proxy.sent[(KEY, "http")]) == {"stable": ["bg-blue-1"], "canary": []}


def test_without_a_previous_split_backends_are_computed_as_before() -> None:
    """A fresh data plane (nothing served yet): every selected Ready pod, as always."""
    proxy = RecordingProxy()
    services = router(proxy, Pods([BLUE, GREEN]))
    services.await_routes([DEPLOYMENT])
    asyncio.run(services.bind(ACTIVE, service()))
    assert endpoints(proxy.sent[(KEY, "http")]) == {"all": ["bg-blue-1", "bg-green-1"]}
