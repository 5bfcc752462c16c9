"""A one-node scheduler: does a pod's ``requests`` fit what the host has left?

As kube-scheduler's ``NodeResourcesFit``: the sum of the requests of the pods already placed
plus the new pod's must not pass the node's allocatable, per resource. A container's request
defaults to its limit (the API server's defaulting), so ``limits.memory: 50Mi`` alone also
reserves 50Mi. The node is this host: ``MemTotal`` and the CPUs this process may run on.
The message is the scheduler's, word for word:

>>> need = Resources(cpu_millis=100, memory=3 * 2**30)
>>> print(unschedulable(need, used=Resources(0, 2 * 2**30), capacity=Resources(2000, 4 * 2**30)))
0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No \
preemption victims found for incoming pod.
>>> unschedulable(need, used=Resources(0, 0), capacity=Resources(2000, 4 * 2**30))
''
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.runtime.isolation.cgroups import ContainerLimits
from reconciler.runtime.isolation.quantity import cpu_millis, memory_bytes


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_millis: int = 0
    memory: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_millis + other.cpu_millis, self.memory + other.memory)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_millis - other.cpu_millis, self.memory - other.memory)

    @property
    def zero(self) -> bool:
        return self.cpu_millis == 0 and self.memory == 0


def _resources(container: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    resources = container.get("resources") or {}
    return resources.get("limits") or {}, resources.get("requests") or {}


def container_requests(container: Mapping[str, Any]) -> Resources:
    limits, requests = _resources(container)
    cpu = requests.get("cpu", limits.get("cpu"))
    memory = requests.get("memory", limits.get("memory"))
    return Resources(
        cpu_millis=cpu_millis(cpu) if cpu is not None else 0,
        memory=memory_bytes(memory) if memory is not None else 0,
    )


def container_limits(container: Mapping[str, Any]) -> ContainerLimits:
    limits, requests = _resources(container)
    cpu_request = requests.get("cpu", limits.get("cpu"))
    return ContainerLimits(
        memory=memory_bytes(limits["memory"]) if "memory" in limits else None,
        cpu_limit_millis=cpu_millis(limits["cpu"]) if "cpu" in limits else None,
        cpu_request_millis=cpu_millis(cpu_request) if cpu_request is not None else None,
    )


def pod_requests(template: Mapping[str, Any]) -> Resources:
    total = Resources()
    for container in (template.get("spec") or {}).get("containers") or []:
        total += container_requests(container)
    return total


def host_capacity() -> Resources:
    """This node's allocatable: every CPU this process may use, and ``MemTotal``."""
    memory = 0
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Resources(cpu_millis=len(os.sched_getaffinity(0)) * 1000, memory=memory)


def unschedulable(request: Resources, *, used: Resources, capacity: Resources) -> str:
    """Empty when ``request`` fits next to ``used``; else kube-scheduler's FailedScheduling text
    (reasons sorted, as its histogram prints them)."""
    free = capacity - used
    reasons = []
    if request.cpu_millis and request.cpu_millis > free.cpu_millis:
        reasons.append("1 Insufficient cpu")
    if request.memory and request.memory > free.memory:
        reasons.append("1 Insufficient memory")
    if not reasons:
        return ""
    return (
        f"0/1 nodes are available: {', '.join(sorted(reasons))}. preemption: 0/1 nodes are "
        "available: 1 No preemption victims found for incoming pod."
    )


__all__ = [
    "Resources",
    "container_limits",
    "container_requests",
    "host_capacity",
    "pod_requests",
    "unschedulable",
]
