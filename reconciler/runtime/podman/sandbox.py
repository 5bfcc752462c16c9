"""The pod sandbox: a podman pod whose infra container holds the network and the ports.

The pod is created (with our labels and its ports) while the images are checked or pulled.
A pod with several containers, or one that refers to its own IP, is also started then, so its
containers join a running network namespace and ``POD_IP`` is known before they start. A
single container that does not need the IP leaves that to its first ``podman run``, which
starts the infra container on the way (``PodmanPod.fast``: one podman call less before Ready,
0.25–0.35 s on the bench host); a host port taken meanwhile then shows in that ``run``, and
the pod is made again on new ports.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from reconciler.runtime.podman.env import needs_pod_ip
from reconciler.runtime.podman.translate import labels

if TYPE_CHECKING:
    from reconciler.runtime.podman.runtime import PodmanPod, PodmanRuntime

log = structlog.get_logger(component="runtime", runtime="podman")


async def create_sandbox(runtime: PodmanRuntime, entry: PodmanPod, *, start: bool) -> bool:
    """Create the podman pod (and with ``start``, start it): its infra container holds the
    network namespace and the published ports. It runs while the image is being checked or
    pulled. Unstarted, the container's first ``run`` starts it.

    A host port can be taken between its allocation and the infra container's ``bind``
    (on a shared host, by another program picking from the same range): the pod then gets
    new ports and tries again at once; it was never Ready, so nothing routed to the old
    ones. Other failures back off (0.5 s doubling to 10 s) with a
    ``FailedCreatePodSandBox`` event.
    """
    spec = entry.pod.spec
    delay = 0.5
    while not entry.pod.terminating:
        args = ["pod", "create", "--name", entry.name, "--infra-name", f"{entry.name}-infra"]
        args += ["--hostname", spec.name[:63]]
        args += labels(
            state_dir=str(runtime.state_dir),
            state=runtime.state,
            namespace=spec.namespace,
            pod=spec.name,
            owner=spec.owner,
        )
        for number, _ in entry.pod.declared_ports():
            args += ["--publish", f"{runtime.bind_host}:{entry.pod.ports[number]}:{number}"]
        created = await runtime.podman.run(*args, timeout=60)
        started = created
        if created.ok and start:
            started = await runtime.podman.run("pod", "start", entry.name, timeout=60)
        if created.ok and started.ok:
            entry.started = start
            entry.pod_id = created.stdout.strip().splitlines()[-1] if created.stdout else ""
            if needs_pod_ip(entry.specs.values()):
                entry.ip = await _infra_ip(runtime, entry.name)
            return True
        failed = created if not created.ok else started
        await runtime.podman.run("pod", "rm", "-f", "--time", "0", entry.name, timeout=60)
        if "address already in use" in failed.stderr:
            log.info("pod_port_taken", pod=spec.name, error=failed.error())
            runtime.new_ports(entry)
            continue
        log.warning("sandbox_failed", pod=spec.name, error=failed.error())
        runtime.event(entry, "Warning", "FailedCreatePodSandBox", failed.error())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.pod.stopping.wait(), delay)
        delay = min(delay * 2, 10.0)
    return False


async def _infra_ip(runtime: PodmanRuntime, name: str) -> str:
    address = await runtime.podman.run(
        "inspect", "--format", "{{.NetworkSettings.IPAddress}}", f"{name}-infra"
    )
    return address.stdout.strip() or runtime.bind_host


__all__ = ["create_sandbox"]
