"""One Runtime that runs each pod on the runtime its template names.

``spec.template.spec.runtimeClassName`` is Kubernetes' own field for it: ``process`` or
``podman``; a pod without it runs on the daemon's default (``reconciler run --runtime``, itself
``process`` by default). The engine, the proxy and the CLI see one ``Runtime``: pods of both
kinds in ``pods()``, every change through one ``subscribe``.

The default runtime is started with the daemon, so a missing podman under ``--runtime podman``
is a clear error at start. The other one starts when a pod first asks for it; if it cannot
(``podman not found``), that pod waits in ``CreateContainerConfigError`` with the message, so
``rollout status`` fails fast and names the fix, and the daemon runs on. A runtime that left
pods running (the previous daemon's, to adopt: ``adopt``) starts with the daemon too, and the
pods it adopts are routed to it.

>>> runtime_class({"spec": {"runtimeClassName": "podman"}}, default="process")
'podman'
>>> runtime_class({"spec": {}}, default="podman")
'podman'
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog

from reconciler.errors import ReconcilerError
from reconciler.runtime import (
    ContainerState,
    ContainerStatus,
    PodConfig,
    PodPhase,
    PodSpec,
    PodStatus,
    Runtime,
)

log = structlog.get_logger(component="runtime")

RUNTIMES = ("process", "podman")
Callback = Callable[[PodStatus], None]


class StartableRuntime(Runtime, Protocol):
    async def start(self) -> None: ...


def runtime_class(template: Mapping[str, Any], *, default: str) -> str:
    spec = template.get("spec") or {}
    name = spec.get("runtimeClassName") if isinstance(spec, Mapping) else None
    return str(name) if name else default


class SelectingRuntime:
    """``reconciler.runtime.Runtime`` over named runtimes (see the module docstring)."""

    def __init__(
        self,
        default: str,
        factories: Mapping[str, Callable[[], StartableRuntime]],
        *,
        adopt: tuple[str, ...] = (),
    ) -> None:
        if default not in factories:
            raise ValueError(f"unknown runtime {default!r}")
        self._default = default
        self._adopt = adopt
        self._factories = dict(factories)
        self._started: dict[str, StartableRuntime] = {}
        self._failed: dict[str, str] = {}  # runtime -> why it cannot start
        self._starting: dict[str, asyncio.Lock] = {}
        self._owner: dict[str, str] = {}  # pod name -> runtime name ("" for a refused pod)
        self._refused: dict[str, PodStatus] = {}
        self._subscribers: list[Callback] = []

    async def start(self) -> None:
        """Start the default runtime (its failure is the daemon's: a clear error), and the
        process runtime in any case: it needs nothing, and it clears what a crashed
        predecessor's process pods left behind."""
        await self._runtime(self._default, fatal=True)
        if "process" in self._factories:
            await self._runtime("process")
        for name in self._adopt:
            if name in self._factories:
                await self._runtime(name)
        for name, runtime in self._started.items():
            for status in runtime.pods():  # adopted from the previous daemon
                self._owner.setdefault(status.name, name)

    async def _runtime(self, name: str, *, fatal: bool = False) -> StartableRuntime | None:
        if name in self._started:
            return self._started[name]
        if name in self._failed and not fatal:
            return None
        async with self._starting.setdefault(name, asyncio.Lock()):
            if name in self._started:
                return self._started[name]
            runtime = self._factories[name]()
            try:
                await runtime.start()
            except ReconcilerError as exc:
                if fatal:
                    raise
                self._failed[name] = str(exc).removeprefix("error: ")
                log.error("runtime_unavailable", runtime=name, error=self._failed[name])
                return None
            runtime.subscribe(self._forward)
            self._started[name] = runtime
            return runtime

    def _forward(self, status: PodStatus) -> None:
        if status.gone:
            self._owner.pop(status.name, None)
        for callback in list(self._subscribers):
            try:
                callback(status)
            except Exception:
                log.exception("subscriber_failed", pod=status.name)

    async def start_pod(self, spec: PodSpec) -> None:
        name = runtime_class(spec.template, default=self._default)
        if name not in self._factories:
            self._refuse(spec, f'RuntimeClass "{name}" not found: use one of {", ".join(RUNTIMES)}')
            return
        runtime = await self._runtime(name)
        if runtime is None:
            self._refuse(spec, self._failed[name])
            return
        self._owner[spec.name] = name
        await runtime.start_pod(spec)

    def _refuse(self, spec: PodSpec, message: str) -> None:
        """A pod no runtime can run: it waits, saying why, until it is deleted."""
        containers = (spec.template.get("spec") or {}).get("containers") or []
        status = PodStatus(
            name=spec.name,
            namespace=spec.namespace,
            owner=spec.owner,
            labels=dict(spec.labels),
            phase=PodPhase.PENDING,
            created_at=time.time(),
            containers=tuple(
                ContainerStatus(
                    name=str(c.get("name", "")),
                    image=str(c.get("image", "")),
                    state=ContainerState.WAITING,
                    reason="CreateContainerConfigError",
                    message=message,
                )
                for c in containers
            ),
        )
        self._owner[spec.name] = ""
        self._refused[spec.name] = status
        self._forward(status)

    async def stop_pod(self, name: str) -> None:
        owner = self._owner.get(name)
        if owner is None:
            return
        if owner == "":
            self._forward(_gone(self._refused.pop(name)))
            return
        await self._started[owner].stop_pod(name)

    async def update_pod_config(self, name: str, config: PodConfig) -> list[str]:
        owner = self._owner.get(name)
        if not owner:  # unknown, or refused: nothing runs, nothing is mounted
            return []
        return await self._started[owner].update_pod_config(name, config)

    def runtime_of(self, name: str) -> str:
        """The name of the runtime that runs pod ``name`` ("" if none: refused or unknown)."""
        return self._owner.get(name, "")

    def pods(self) -> list[PodStatus]:
        out = list(self._refused.values())
        for runtime in self._started.values():
            out.extend(runtime.pods())
        return out

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Every change from now on, after the pods there are (a list, then a watch): a
        subscriber after ``start`` learns the pods adopted from the previous daemon."""
        self._subscribers.append(callback)
        with contextlib.suppress(RuntimeError):  # no loop: nothing runs yet
            loop = asyncio.get_running_loop()
            for status in self.pods():
                loop.call_soon(self._replay, callback, status)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _replay(self, callback: Callback, status: PodStatus) -> None:
        if callback in self._subscribers:
            try:
                callback(status)
            except Exception:
                log.exception("subscriber_failed", pod=status.name)

    async def close(self) -> None:
        for name in list(self._refused):
            await self.stop_pod(name)
        await asyncio.gather(*(r.close() for r in self._started.values()))

    async def detach(self) -> None:
        """Leave every runtime's pods running for the next daemon (a runtime that cannot,
        stops them)."""
        self._refused.clear()

        async def let_go(runtime: StartableRuntime) -> None:
            detach = getattr(runtime, "detach", None)
            await (detach() if detach is not None else runtime.close())

        await asyncio.gather(*(let_go(r) for r in self._started.values()))


def _gone(status: PodStatus) -> PodStatus:
    from dataclasses import replace

    return replace(status, terminating=True, gone=True)


__all__ = ["RUNTIMES", "SelectingRuntime", "runtime_class"]
