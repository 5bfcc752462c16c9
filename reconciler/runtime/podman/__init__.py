"""The podman runtime: pods as podman pods running real container images.

``reconciler run --runtime podman`` (or ``runtimeClassName: podman`` on a pod template) runs
a pod's containers from their images, with Kubernetes' semantics (ENTRYPOINT/CMD, pull policy
and back-off, probes, restarts, limits, OOMKilled) behind the same ``Runtime`` seam as the
process runtime. Modules: ``host`` (what this host's podman needs), ``client`` (the CLI and
its events stream), ``translate`` (spec → podman flags), ``env``, ``images``, ``oom``,
``supervise`` (one container's life), ``runtime`` (the seam), ``records`` (for the CLI),
``adopt`` (pods outlive the daemon; ``stop_all`` for ``reconciler down``).
"""

from __future__ import annotations

from reconciler.runtime.podman.adopt import stop_all
from reconciler.runtime.podman.host import MISSING, PodmanUnavailable
from reconciler.runtime.podman.runtime import PodmanRuntime

__all__ = ["MISSING", "PodmanRuntime", "PodmanUnavailable", "stop_all"]
