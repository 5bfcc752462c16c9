"""The kubelet's and the scheduler's pod events, read off the changes of a pod's status.

The process runtime reports states (``Waiting: ErrImagePull``, ``Running`` since ``t``, ready or
not, terminating), not events; the kubelet would have said what happened on the way. So each
change of a pod is compared with the one before (``kubelet_events(before, after)``) and the
kubelet's events are recorded on the Pod, word for word (semantics §8):

    first seen, placed                Scheduled  Successfully assigned default/web-… to localhost
    a container (re)started           Pulled     Container image "demo:1" already present on machine
                                      Created    Created container web
                                      Started    Started container web
    waiting in ErrImagePull           Pulling    Pulling image "demo:1"
                                      Failed     Failed to pull image "demo:1": <why>
                                      Failed     Error: ErrImagePull
    waiting in ImagePullBackOff       BackOff    Back-off pulling image "demo:1"
                                      Failed     Error: ImagePullBackOff
    waiting in CrashLoopBackOff       BackOff    Back-off restarting failed container web in pod …
    CreateContainerConfigError        Failed     Error: <why>
    ready → not ready, still running  Unhealthy  Readiness probe failed[: <why>]
    terminating                       Killing    Stopping container web

The store counts a repeated event up (``x5 over 3m``), as the API server aggregates them. A
runtime that records these itself (podman) is left to do so; only ``Scheduled`` comes from here
for its pods. Pods adopted from an earlier daemon whose events are already recorded are taken as
they are, so a restart of the daemon does not report every pod as started again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.events.controllers import KUBELET, SCHEDULER, EventSink
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodStatus

log = get_logger(component="events")

NODE = "localhost"
"""The one node's name (``describe pod`` shows ``Node: localhost/127.0.0.1``)."""


@dataclass(frozen=True, slots=True)
class PodEvent:
    type: str  # Normal | Warning
    reason: str
    message: str
    source: str = KUBELET


def scheduled(pod: PodStatus) -> PodEvent:
    return PodEvent(
        "Normal",
        "Scheduled",
        f"Successfully assigned {pod.namespace}/{pod.name} to {NODE}",
        SCHEDULER,
    )


def _container_events(
    pod: PodStatus, before: ContainerStatus | None, after: ContainerStatus
) -> list[PodEvent]:
    name, image = after.name, after.image
    if after.state == ContainerState.RUNNING:
        started = before is None or before.state != ContainerState.RUNNING
        if started or (before is not None and before.started_at != after.started_at):
            return [
                PodEvent(
                    "Normal", "Pulled", f'Container image "{image}" already present on machine'
                ),
                PodEvent("Normal", "Created", f"Created container {name}"),
                PodEvent("Normal", "Started", f"Started container {name}"),
            ]
        if before is not None and before.ready and not after.ready:
            why = f": {after.message}" if after.message else ""
            return [PodEvent("Warning", "Unhealthy", f"Readiness probe failed{why}")]
        return []
    if after.state != ContainerState.WAITING:
        return []
    entered = before is None or before.reason != after.reason
    again = before is not None and before.restart_count != after.restart_count
    if not (entered or again):
        return []
    why = f": {after.message}" if after.message else ""
    if after.reason == "ErrImagePull":
        return [
            PodEvent("Normal", "Pulling", f'Pulling image "{image}"'),
            PodEvent("Warning", "Failed", f'Failed to pull image "{image}"{why}'),
            PodEvent("Warning", "Failed", "Error: ErrImagePull"),
        ]
    if after.reason == "ImagePullBackOff":
        return [
            PodEvent("Normal", "BackOff", f'Back-off pulling image "{image}"'),
            PodEvent("Warning", "Failed", "Error: ImagePullBackOff"),
        ]
    if after.reason == "CrashLoopBackOff":
        where = f"{pod.name}_{pod.namespace}"
        return [
            PodEvent(
                "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {where}"
            )
        ]
    if after.reason == "CreateContainerConfigError":
        return [PodEvent("Warning", "Failed", f"Error: {after.message or after.reason}")]
    return []


def kubelet_events(before: PodStatus | None, after: PodStatus) -> list[PodEvent]:
    """What the kubelet and the scheduler would have said between two statuses of a pod.

    >>> from reconciler.runtime import PodPhase
    >>> waiting = ContainerStatus("web", "demo:1", ContainerState.WAITING, "ContainerCreating")
    >>> pod = PodStatus("web-1-a", "default", "web-1", {}, PodPhase.PENDING, 0.0, (waiting,))
    >>> [e.reason for e in kubelet_events(None, pod)]
    ['Scheduled']
    >>> running = ContainerStatus("web", "demo:1", ContainerState.RUNNING, started_at=1.0)
    >>> up = PodStatus("web-1-a", "default", "web-1", {}, PodPhase.RUNNING, 0.0, (running,))
    >>> [e.reason for e in kubelet_events(pod, up)]
    ['Pulled', 'Created', 'Started']
    """
    if after.gone:
        return []
    events: list[PodEvent] = []
    placed_before = before is not None and not before.unschedulable
    if not after.unschedulable and not placed_before and not after.terminating:
        events.append(scheduled(after))
    if after.unschedulable:
        return events
    if after.terminating:
        if before is not None and not before.terminating:
            events += [
                PodEvent("Normal", "Killing", f"Stopping container {c.name}")
                for c in after.containers
                if c.state == ContainerState.RUNNING
            ]
        return events
    previous = {c.name: c for c in before.containers} if before is not None else {}
    for container in after.containers:
        events += _container_events(after, previous.get(container.name), container)
    return events


class KubeletEvents:
    """Records ``kubelet_events`` of each change of a pod on the Pod, in ``store``.

    ``reports_own`` says which pods' runtime records the kubelet's events itself (then only
    ``Scheduled`` is recorded here); ``now`` is the clock.
    """

    def __init__(
        self,
        store: EventSink,
        *,
        now: Callable[[], float],
        known: Callable[[ObjectRef], bool],
        reports_own: Callable[[PodStatus], bool] = lambda pod: False,
    ) -> None:
        self._store = store
        self._now = now
        self._known = known
        self._reports_own = reports_own
        self._last: dict[str, PodStatus] = {}

    def observe(self, pod: PodStatus) -> None:
        if pod.gone:
            self._last.pop(pod.name, None)
            return
        ref = ObjectRef(Kind.POD, pod.namespace, pod.name)
        before = self._last.get(pod.name)
        self._last[pod.name] = pod
        events = kubelet_events(before, pod)
        if self._reports_own(pod):
            events = [e for e in events if e.source == SCHEDULER]
        if not events:
            return
        try:
            if before is None and self._known(ref):
                return  # adopted: what it did so far is recorded already
            with self._store.transaction():  # one commit for the change, not one per event
                self._record(ref, events)
        except sqlite3.Error as exc:  # the store's trouble is the daemon's to report, not ours
            log.warning("pod_events_not_recorded", pod=pod.name, error=str(exc))

    def _record(self, ref: ObjectRef, events: list[PodEvent]) -> None:
        now = self._now()
        for event in events:
            self._store.add_event(
                ref,
                type=event.type,
                reason=event.reason,
                message=event.message,
                now=now,
                source=event.source,
            )


def reports_own_events(runtime: object) -> Callable[[PodStatus], bool]:
    """Pods whose runtime records the kubelet's events itself: podman's (``SelectingRuntime``
    knows which runtime runs a pod)."""
    runtime_of = getattr(runtime, "runtime_of", None)
    if not callable(runtime_of):
        return lambda pod: False
    return lambda pod: runtime_of(pod.name) == "podman"
