"""Waiting for a pod to be gone, through the ``Runtime`` protocol alone.

A caller that stopped a pod and must know when its processes are gone (a benchmark timing a
rollout, a test) subscribes and waits for the pod's last notification (``gone=True``), or for
the pod to leave ``pods()``, whichever it sees first. No runtime needs a method of its own for
it, so it works the same on the process, podman, selecting and in-memory runtimes.
"""

from __future__ import annotations

import asyncio

from reconciler.runtime import PodStatus, Runtime


async def wait_gone(runtime: Runtime, name: str) -> None:
    """Return once pod ``name`` has left ``runtime.pods()`` (at once if it is not there)."""
    gone = asyncio.Event()

    def seen(pod: PodStatus) -> None:
        if pod.name == name and pod.gone:
            gone.set()

    unsubscribe = runtime.subscribe(seen)
    try:
        while any(p.name == name for p in runtime.pods()):
            try:
                await asyncio.wait_for(gone.wait(), 0.5)  # and look again: never miss the end
            except TimeoutError:
                continue
            break
    finally:
        unsubscribe()


__all__ = ["wait_gone"]
