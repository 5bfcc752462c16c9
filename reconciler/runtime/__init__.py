"""The Runtime seam: what the engine needs from whatever runs pods.

The process runtime (``reconciler.runtime.process``) runs each pod as real process groups, the
podman runtime (``reconciler.runtime.podman``) as a podman pod, and ``reconciler.runtime.select``
picks one per pod (``runtimeClassName``); unit tests use the in-memory ``runtime.fake``. All
report pods as ``PodStatus`` values with Kubernetes' words: phase, container states and
reasons, ready flags and restart counts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "ContainerState",
    "ContainerStatus",
    "PodConfig",
    "PodPhase",
    "PodSpec",
    "PodStatus",
    "Runtime",
]


class ContainerState(enum.StrEnum):
    WAITING = "Waiting"
    RUNNING = "Running"
    TERMINATED = "Terminated"


class PodPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    name: str
    image: str
    state: ContainerState
    reason: str = ""  # ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...
    message: str = ""
    ready: bool = False
    restart_count: int = 0
    last_restart_at: float | None = None
    started_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    # the previous instance's termination (kubectl describe's "Last State")
    last_exit_code: int | None = None
    last_reason: str = ""
    # what the runtime runs it as (podman: ``podman://<id>`` and the image's ``sha256:<id>``)
    container_id: str = ""
    image_id: str = ""


@dataclass(frozen=True, slots=True)
class PodConfig:
    """The ConfigMaps and Secrets a pod's template references, resolved by the executor when the
    pod is created: object name -> key -> value (a ConfigMap's ``data`` encoded as UTF-8 and its
    ``binaryData`` decoded; a Secret's decoded values). A name absent here does not exist in the
    pod's namespace (``CreateContainerConfigError`` unless the reference is ``optional``)."""

    config_maps: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    # the Kubernetes service variables of the namespace's Services when the pod was created
    # (``WEB_SERVICE_HOST``, ``WEB_SERVICE_PORT``, ...; see ``reconciler.manifests.podenv``)
    services: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never a value in a log line or a traceback
        return (
            f"PodConfig(config_maps={sorted(self.config_maps)}, secrets={sorted(self.secrets)}, "
            f"services={len(self.services)})"
        )


@dataclass(frozen=True, slots=True)
class PodSpec:
    """What to start: one pod of a ReplicaSet."""

    name: str
    namespace: str
    owner: str  # the ReplicaSet's name
    labels: Mapping[str, str]
    template: Mapping[str, Any]  # the defaulted pod template (metadata + spec)
    base_dir: Path  # relative workingDir resolves against this (the manifest's folder)
    config: PodConfig = field(default_factory=PodConfig)


@dataclass(frozen=True, slots=True)
class PodStatus:
    name: str
    namespace: str
    owner: str
    labels: Mapping[str, str]
    phase: PodPhase
    created_at: float
    containers: tuple[ContainerStatus, ...]
    ready: bool = False
    ready_since: float | None = None  # when the pod last became Ready (None while not Ready)
    terminating: bool = False
    # when termination began (wall clock): the API server's deletionTimestamp is this plus the
    # grace period
    terminating_since: float | None = None
    ip: str = "127.0.0.1"
    # container port -> host port, keyed by the port number as a string and by its name
    ports: Mapping[str, int] = field(default_factory=dict)
    # True only in the last notification about a pod: its processes are gone and it has left
    # ``pods()``
    gone: bool = False
    # the one-node scheduler's FailedScheduling message while the pod waits for room (Pending),
    # and how many times it was tried
    unschedulable: str = ""
    schedule_attempts: int = 0

    @property
    def restarts(self) -> int:
        return sum(c.restart_count for c in self.containers)


class Runtime(Protocol):
    async def start_pod(self, spec: PodSpec) -> None:
        """Register the pod and start its containers in the background (returns at once)."""

    async def stop_pod(self, name: str) -> None:
        """Begin graceful termination (preStop, SIGTERM, SIGKILL after the grace period).

        Returns at once; the pod reports ``terminating`` until its processes are gone, then
        disappears from ``pods()``.
        """

    async def update_pod_config(self, name: str, config: PodConfig) -> list[str]:
        """Rewrite the pod's configMap and secret volumes from ``config`` in place (the
        kubelet's atomic ``..data`` swap); the names of the volumes that changed."""

    def pods(self) -> list[PodStatus]: ...

    def subscribe(self, callback: Callable[[PodStatus], None]) -> Callable[[], None]:
        """Call ``callback`` on every change of a pod; returns an unsubscribe function."""

    async def close(self) -> None:
        """Stop every pod gracefully and wait until all are gone."""

    async def detach(self) -> None:
        """Stop watching the pods and leave them running (the daemon is stopping; the next one
        adopts them)."""
