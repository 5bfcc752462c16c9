"""Pods the one-node scheduler could not place yet: Pending, no container, retried as others go.

Kubernetes leaves such a pod ``Pending`` with ``PodScheduled=False`` and a ``FailedScheduling``
event, and tries again when the cluster changes. On one host the only change that frees
requests is a pod leaving, so the runtime calls ``retry()`` after each pod is gone; every try
that fails counts as an attempt (the daemon records one event per attempt, which ``describe``
folds into ``(xN over ...)``).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from reconciler.runtime.container import Pod
from reconciler.runtime.isolation.pods import Isolation

log = structlog.get_logger(component="isolation")


class PendingPods:
    def __init__(
        self,
        isolation: Isolation,
        *,
        launch: Callable[[Pod], None],
        notify: Callable[[Pod], None],
    ) -> None:
        self._isolation = isolation
        self._launch = launch
        self._notify = notify
        self._waiting: list[Pod] = []  # oldest first

    def place(self, pod: Pod) -> None:
        """Launch the pod if its requests fit; else hold it Pending."""
        message = self._isolation.admit(pod.spec)
        if message:
            self._waiting.append(pod)
            self._hold(pod, message)
            return
        self._notify(pod)
        self._launch(pod)

    def _hold(self, pod: Pod, message: str) -> None:
        pod.unschedulable = message
        pod.schedule_attempts += 1
        for container in pod.containers:
            container.set_waiting("", "")  # no container exists yet: get pods says Pending
        log.info("pod_unschedulable", pod=pod.spec.name, message=message)
        self._notify(pod)

    def retry(self) -> None:
        """Place, oldest first, the held pods that fit now (a pod has just gone)."""
        for pod in list(self._waiting):
            if pod.terminating:
                self._waiting.remove(pod)
                continue
            message = self._isolation.admit(pod.spec)
            if message:
                self._hold(pod, message)
                continue
            self._waiting.remove(pod)
            pod.unschedulable = ""
            for container in pod.containers:
                container.set_waiting("ContainerCreating", "")
            log.info("pod_scheduled", pod=pod.spec.name, attempts=pod.schedule_attempts)
            self._notify(pod)
            self._launch(pod)


__all__ = ["PendingPods"]
