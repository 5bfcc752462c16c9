"""How pods and container instances end, for both runtimes: back-off, preStop, SIGTERM, SIGKILL.

``RuntimeCore`` is what the process and the podman runtime share: the pods by name, their host
ports, the subscribers that hear of every status change, and stopping a pod (terminating at
once, so the proxy drops it before any signal is sent; then the runtime's own ``_finish``).

The process runtime's supervising task calls ``terminate`` to stop an instance (the pod is
being deleted, or a liveness probe failed): ``lifecycle.preStop`` first, within the grace
period, then SIGTERM through the shim (whose own backstop SIGKILLs once the grace period has
passed, should the daemon die meanwhile), then SIGKILL when the deadline comes. ``lost`` is the
exit status of an instance whose shim was killed without leaving one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from reconciler.runtime import PodStatus
from reconciler.runtime import shim as shim_records
from reconciler.runtime.adopt import LOST, kill_container
from reconciler.runtime.container import Container, Pod
from reconciler.runtime.ports import PortAllocator
from reconciler.runtime.supervisor import ExitRecord, ShimHandle

log = structlog.get_logger(component="runtime")

Callback = Callable[[PodStatus], None]
Entry = TypeVar("Entry")


class RuntimeCore(Generic[Entry]):
    """The pods a runtime supervises (``Entry``: its record of one pod), shared by both.

    A runtime says how to reach the ``Pod`` of an entry, how to report and publish its status,
    and how a stopping pod finishes; the rest is here.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        backoff_initial: float,
        backoff_max: float,
        image_pull_backoff_initial: float | None,
        bind_host: str,
    ) -> None:
        self._state_dir = state_dir
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._pull_initial = (
            backoff_initial if image_pull_backoff_initial is None else image_pull_backoff_initial
        )
        self._bind_host = bind_host
        self._ports = PortAllocator(bind_host)
        self._pods: dict[str, Entry] = {}
        self._subscribers: list[Callback] = []
        self._finishing: set[asyncio.Task[None]] = set()
        self._detached = False

    # -- what a runtime provides -------------------------------------------------------------

    def _pod_of(self, entry: Entry) -> Pod:
        raise NotImplementedError

    def _status(self, entry: Entry) -> PodStatus:
        raise NotImplementedError

    def _notify(self, entry: Entry) -> None:
        """Tell the subscribers of the entry's status (and save it, as the runtime does)."""
        raise NotImplementedError

    async def _finish(self, entry: Entry) -> None:
        """The end of a stopping pod: its containers gone, its resources freed."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------

    def pods(self) -> list[PodStatus]:
        return [self._status(entry) for entry in self._pods.values()]

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    async def stop_pod(self, name: str) -> None:
        entry = self._pods.get(name)
        if entry is None or self._pod_of(entry).terminating:
            return
        pod = self._pod_of(entry)
        pod.terminating = True
        pod.terminating_since = time.time()  # the API's deletionTimestamp
        pod.stop_deadline = time.monotonic() + pod.grace_period
        pod.update_ready()
        # subscribers (the proxy) hear of it before any signal is sent
        self._notify(entry)
        self._begin_finish(entry)

    async def close(self) -> None:
        """Stop every pod gracefully and wait until all are gone (``reconciler down``)."""
        for name in list(self._pods):
            await self.stop_pod(name)
        await self._finished()

    async def _finished(self) -> None:
        """Wait for every pod that is stopping (one may begin to stop meanwhile)."""
        while self._finishing:
            await asyncio.gather(*list(self._finishing), return_exceptions=True)

    def _begin_finish(self, entry: Entry) -> None:
        pod = self._pod_of(entry)
        pod.stopping.set()
        task = asyncio.create_task(self._finish(entry), name=f"pod/{pod.spec.name}/finish")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _publish(self, status: PodStatus) -> None:
        for callback in list(self._subscribers):
            try:
                callback(status)
            except Exception:
                log.exception("subscriber_failed", pod=status.name)

    def _assign_ports(self, pod: Pod) -> None:
        """A host port for each declared container port (by number, and by name if named)."""
        for number, port_name in pod.declared_ports():
            host_port = pod.ports.get(number) or self._ports.allocate()
            pod.ports[number] = host_port
            if port_name:
                pod.ports[port_name] = host_port


class Backoff:
    """The kubelet's restart back-off: the first retry at once, then initial, doubling to max.

    >>> b = Backoff(10, 300); [b.next() for _ in range(8)]
    [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    """

    __slots__ = ("_current", "_initial", "_max")

    def __init__(self, initial: float, maximum: float) -> None:
        self._initial = float(initial)
        self._max = float(maximum)
        self._current = 0.0

    def next(self) -> float:
        delay = self._current
        self._current = self._initial if delay == 0 else min(delay * 2, self._max)
        return min(delay, self._max)

    def reset(self) -> None:
        self._current = 0.0


async def terminate(
    pod: Pod,
    container: Container,
    handle: ShimHandle,
    exited: asyncio.Future[None],
    *,
    env: Mapping[str, str],
    cwd: Path,
    enter: tuple[str, ...] = (),
) -> None:
    """preStop, SIGTERM to the group, SIGKILL when the grace period is over.

    The deadline is the pod's stop deadline (counted from the stop request) when it is
    stopping, else a full grace period from now (a failed liveness probe).
    """
    deadline = pod.stop_deadline if pod.terminating else time.monotonic() + pod.grace_period
    await pre_stop(container, env=env, cwd=cwd, deadline=deadline, exited=exited, enter=enter)
    handle.send(signal.SIGTERM)
    remaining = deadline - time.monotonic()
    if remaining > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), remaining)
    if not exited.done():
        log.info("container_sigkill", pod=pod.spec.name, container=container.name)
        handle.send(shim_records.KILL)


def remove_folders(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def lost(handle: ShimHandle) -> ExitRecord:
    """The shim exited without an exit record (it was killed): stop its container too."""
    kill_container(handle.record)
    return LOST


async def pre_stop(
    container: Container,
    *,
    env: Mapping[str, str],
    cwd: Path,
    deadline: float,
    exited: asyncio.Future[None],
    enter: tuple[str, ...] = (),
) -> None:
    """Run ``lifecycle.preStop`` (``exec`` or ``sleep``) within the grace period; ``enter``
    is the prefix that runs it inside the container's mount namespace (when it has one)."""
    hook = (container.spec.get("lifecycle") or {}).get("preStop") or {}
    budget = deadline - time.monotonic()
    if budget <= 0 or not isinstance(hook, dict):
        return
    if isinstance(hook.get("sleep"), dict):
        seconds = float(hook["sleep"].get("seconds", 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), min(seconds, budget))
        return
    exec_hook = hook.get("exec")
    command = exec_hook.get("command") if isinstance(exec_hook, dict) else None
    if not command:
        return
    try:
        hook_process = await asyncio.create_subprocess_exec(
            *enter,  # into the container's mount namespace, when it has one
            *[str(part) for part in command],
            env=dict(env),
            cwd="/" if enter else cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("prestop_failed", container=container.name, error=str(exc))
        return
    try:
        await asyncio.wait_for(hook_process.wait(), budget)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(hook_process.pid, signal.SIGKILL)
        await hook_process.wait()


__all__ = ["Backoff", "Callback", "RuntimeCore", "lost", "pre_stop", "remove_folders", "terminate"]
