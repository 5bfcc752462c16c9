"""Helpers for runtime tests: pod specs from container dicts (waiting is ``tests.polling``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from reconciler.defaults import default_pod_template
from reconciler.runtime import PodSpec, PodStatus
from reconciler.runtime.process import ProcessRuntime
from tests.polling import wait_until as wait_until  # the runtime tests import it from here

PY = sys.executable
T = TypeVar("T")


def py(code: str) -> dict[str, Any]:
    """A container command running a Python one-liner."""
    return {"command": [PY, "-c", code]}


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": f"{name}:1.0"}
    out.update(fields)
    return out


def pod_spec(
    name: str,
    *containers: dict[str, Any],
    base_dir: Path,
    grace: float = 5,
    labels: dict[str, str] | None = None,
) -> PodSpec:
    template = default_pod_template(
        {
            "metadata": {"labels": labels or {"app": "web"}},
            "spec": {"containers": list(containers), "terminationGracePeriodSeconds": grace},
        }
    )
    return PodSpec(
        name=name,
        namespace="default",
        owner="web-abc",
        labels=labels or {"app": "web"},
        template=template,
        base_dir=base_dir,
    )


def pod_of(runtime: ProcessRuntime, name: str) -> PodStatus | None:
    return next((p for p in runtime.pods() if p.name == name), None)


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (nothing may reap orphans in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def run_with_runtime(
    state_dir: Path,
    scenario: Callable[[ProcessRuntime], Awaitable[T]],
    *,
    timeout: float = 30,
    **options: Any,
) -> T:
    """Run ``scenario`` against a started runtime (short back-offs), then close it."""
    options.setdefault("backoff_initial", 0.2)
    options.setdefault("backoff_max", 0.8)

    async def main() -> T:
        rt = ProcessRuntime(state_dir, **options)
        await rt.start()
        try:
            return await asyncio.wait_for(scenario(rt), timeout)
        finally:
            await asyncio.wait_for(rt.close(), 15)

    return asyncio.run(main())
