"""How a container instance ends: the restart back-off, preStop, SIGTERM, SIGKILL.

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
from collections.abc import Mapping
from pathlib import Path

import structlog

from reconciler.runtime import shim as shim_records
from reconciler.runtime.adopt import LOST, kill_container
from reconciler.runtime.container import Container, Pod
from reconciler.runtime.supervisor import ExitRecord, ShimHandle

log = structlog.get_logger(component="runtime")


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


__all__ = ["Backoff", "lost", "pre_stop", "remove_folders", "terminate"]
