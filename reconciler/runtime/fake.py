"""An in-memory ``Runtime``: pods as values, for unit tests of the daemon and the engine above.

Nothing runs: a started pod is ``Pending`` (``ContainerCreating``) until the test (or, with
``ready_on_start``, the fake itself on the next loop turn) makes it Running and Ready; a stopped
pod is ``terminating`` and then gone, at once or when the test says (``hold_stops``). Every
change is notified to subscribers exactly as the real runtimes do: a stopping pod is announced
``terminating`` before it goes, and the last notification about a pod has ``gone=True`` and the
pod has left ``pods()``. Ports are handed out per declared ``containerPort`` (fake numbers: no
socket is opened). Time comes from the ``now`` given (a ``ManualClock``'s, in tests).

The contract is checked by exercising this fake and ``ProcessRuntime`` with the same test
(``tests/unit/test_contracts.py``), not only by mypy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.runtime import (
    ContainerState,
    ContainerStatus,
    PodConfig,
    PodPhase,
    PodSpec,
    PodStatus,
)

Callback = Callable[[PodStatus], None]


def _container_specs(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(template.get("spec", {}).get("containers", []))


class FakeRuntime:
    """``reconciler.runtime.Runtime`` in memory (see the module docstring)."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.time,
        ready_on_start: bool = False,
        hold_stops: bool = False,
    ) -> None:
        self.now = now
        self.ready_on_start = ready_on_start
        self.hold_stops = hold_stops  # stopped pods stay terminating until ``finish_stop``
        self.started: list[str] = []  # every pod started, in order
        self.stopped: list[str] = []  # every pod asked to stop, in order
        self.configs: dict[str, PodConfig] = {}
        self.detached = False
        self._pods: dict[str, PodStatus] = {}
        self._specs: dict[str, PodSpec] = {}
        self._subscribers: list[Callback] = []
        self._ports = itertools.count(40000)

    # -- the Runtime protocol -----------------------------------------------------------------

    async def start_pod(self, spec: PodSpec) -> None:
        if spec.name in self._pods:
            return
        ports: dict[str, int] = {}
        for container in _container_specs(spec.template):
            for port in container.get("ports", []):
                host = next(self._ports)
                ports[str(port["containerPort"])] = host
                if port.get("name"):
                    ports[str(port["name"])] = host
        containers = tuple(
            ContainerStatus(
                name=str(c.get("name", "main")),
                image=str(c.get("image", "")),
                state=ContainerState.WAITING,
                reason="ContainerCreating",
            )
            for c in _container_specs(spec.template)
        )
        self._specs[spec.name] = spec
        self.configs[spec.name] = spec.config
        self.started.append(spec.name)
        self._set(
            PodStatus(
                name=spec.name,
                namespace=spec.namespace,
                owner=spec.owner,
                labels=dict(spec.labels),
                phase=PodPhase.PENDING,
                created_at=self.now(),
                containers=containers,
                ports=ports,
            )
        )
        if self.ready_on_start:
            asyncio.get_running_loop().call_soon(self._ready_if_running, spec.name)

    async def stop_pod(self, name: str) -> None:
        pod = self._pods.get(name)
        if pod is None or pod.terminating:
            return
        self.stopped.append(name)
        self._set(dataclasses.replace(pod, terminating=True, ready=False, ready_since=None))
        if not self.hold_stops:
            asyncio.get_running_loop().call_soon(self.finish_stop, name)

    async def update_pod_config(self, name: str, config: PodConfig) -> list[str]:
        spec = self._specs.get(name)
        if spec is None or name not in self._pods:
            return []
        old = self.configs.get(name, PodConfig())
        self.configs[name] = config
        changed = []
        for volume in spec.template.get("spec", {}).get("volumes", []):
            if "configMap" in volume:
                source = volume["configMap"].get("name", "")
                if old.config_maps.get(source) != config.config_maps.get(source):
                    changed.append(str(volume["name"]))
            elif "secret" in volume:
                source = volume["secret"].get("secretName", "")
                if old.secrets.get(source) != config.secrets.get(source):
                    changed.append(str(volume["name"]))
        return changed

    def pods(self) -> list[PodStatus]:
        return list(self._pods.values())

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    async def close(self) -> None:
        for name in list(self._pods):
            await self.stop_pod(name)
            self.finish_stop(name)

    async def detach(self) -> None:
        self.detached = True
        self._subscribers.clear()

    # -- what a test does to the pods -----------------------------------------------------------

    def spec(self, name: str) -> PodSpec:
        """What the pod was started with."""
        return self._specs[name]

    def set_ready(self, name: str, ready: bool = True) -> None:
        """The pod's containers run, and pass (or fail) their readiness probes."""
        pod = self._pods[name]
        if pod.terminating:
            return
        now = self.now()
        containers = tuple(
            dataclasses.replace(
                c,
                state=ContainerState.RUNNING,
                reason="",
                ready=ready,
                started_at=c.started_at or now,
            )
            for c in pod.containers
        )
        since = (pod.ready_since or now) if ready else None
        self._set(
            dataclasses.replace(
                pod, phase=PodPhase.RUNNING, containers=containers, ready=ready, ready_since=since
            )
        )

    def crash(self, name: str, *, reason: str = "CrashLoopBackOff", exit_code: int = 1) -> None:
        """Every container of the pod exited and waits to be restarted (``reason``)."""
        pod = self._pods[name]
        containers = tuple(
            dataclasses.replace(
                c,
                state=ContainerState.WAITING,
                reason=reason,
                ready=False,
                restart_count=c.restart_count + 1,
                last_restart_at=self.now(),
                last_exit_code=exit_code,
                last_reason="Error",
            )
            for c in pod.containers
        )
        self._set(dataclasses.replace(pod, containers=containers, ready=False, ready_since=None))

    def unschedulable(self, name: str, message: str) -> None:
        """The one-node scheduler tried, and could not place the pod (one more attempt)."""
        pod = self._pods[name]
        attempts = pod.schedule_attempts + 1
        self._set(dataclasses.replace(pod, unschedulable=message, schedule_attempts=attempts))

    def finish_stop(self, name: str) -> None:
        """A terminating pod's processes are gone: the last notification, ``gone=True``."""
        pod = self._pods.get(name)
        if pod is None or not pod.terminating:
            return
        del self._pods[name]
        containers = tuple(
            dataclasses.replace(c, state=ContainerState.TERMINATED, ready=False, exit_code=0)
            for c in pod.containers
        )
        self._notify(dataclasses.replace(pod, containers=containers, gone=True))

    def adopt(self, pod: PodStatus) -> None:
        """A pod a previous daemon left running (before the daemon subscribes)."""
        self._pods[pod.name] = pod

    # -- inside -------------------------------------------------------------------------------

    def _ready_if_running(self, name: str) -> None:
        pod = self._pods.get(name)
        if pod is not None and not pod.terminating:
            self.set_ready(name)

    def _set(self, pod: PodStatus) -> None:
        self._pods[pod.name] = pod
        self._notify(pod)

    def _notify(self, pod: PodStatus) -> None:
        for callback in list(self._subscribers):
            callback(pod)


__all__ = ["FakeRuntime"]
