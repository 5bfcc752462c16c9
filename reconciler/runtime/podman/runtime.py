"""The podman runtime: each pod a podman pod, each container a podman container.

The same seam and the same words as the process runtime (``reconciler.runtime.process``), with
the same mutable ``Pod``/``Container`` views and probes (``reconciler.runtime.container``), so
the engine, the proxy and the CLI cannot tell them apart. One supervisor task per container
owns it from the first pull to the last exit::

    pod create + start (ports on 127.0.0.1) ─► image present? (imagePullPolicy) ─► pull
        │ fails: ErrImagePull → ImagePullBackOff (back-off) ◄──────────────────────┘
        ▼
    create (command → ENTRYPOINT, args → CMD, env, limits) ─► start ─► Running, probes
        ▲                                                             │ died (events stream)
        └──── CrashLoopBackOff back-off ◄── Terminated (inspect: exit code, OOMKilled) ◄┘

A restart is a new container, as the kubelet makes one; the previous one is kept for
``logs --previous`` (and one more, for a reader of the record just before a restart).
Podman's own restart policy is off: back-off and restart counts are ours. Deaths come from
one ``podman events`` stream; nothing polls podman per pod. Every podman object carries our
labels (state directory, pod, ReplicaSet), and leftovers are removed by those labels only.
The steps of one container's life are in ``supervise``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import structlog

from reconciler.runtime import PodConfig, PodSpec, PodStatus
from reconciler.runtime.container import Container, Pod
from reconciler.runtime.isolation.volumes import (
    HostVolume,
    remove_volumes,
    update_config_volumes,
)
from reconciler.runtime.lifecycle import Backoff, RuntimeCore
from reconciler.runtime.podman import images, volumes
from reconciler.runtime.podman.adopt import adopt, pod_record
from reconciler.runtime.podman.client import Event, EventStream, Podman
from reconciler.runtime.podman.env import needs_pod_ip
from reconciler.runtime.podman.host import (
    PodmanUnavailable,
    configure,
    podman_binary,
    podman_dir,
    state_id,
)
from reconciler.runtime.podman.oom import OomWatch
from reconciler.runtime.podman.records import remove_record, write_record
from reconciler.runtime.podman.sandbox import create_sandbox
from reconciler.runtime.podman.translate import (
    LABEL_STATE_ID,
    pod_name,
)

log = structlog.get_logger(component="runtime", runtime="podman")

# (namespace, pod, type, reason, message): the kubelet's events on a pod
EventSink = Callable[[str, str, str, str, str], None]


@dataclass(slots=True)
class Instance:
    """One podman container: a container's current (or previous) run."""

    name: str
    id: str = ""
    image_id: str = ""
    exited: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    oom: OomWatch | None = None


@dataclass(slots=True)
class PodmanPod:
    pod: Pod
    name: str  # the podman pod's name
    specs: dict[str, Mapping[str, Any]]  # container name -> its spec as written
    ip: str = ""
    current: dict[str, Instance] = field(default_factory=dict)
    previous: dict[str, Instance] = field(default_factory=dict)
    # the one before the previous: kept one more restart, so a ``logs --previous`` that read
    # the record just before a restart still finds its container
    retired: dict[str, Instance] = field(default_factory=dict)
    sandbox: asyncio.Future[bool] | None = None
    pod_id: str = ""  # the podman pod's ID (a successor verifies it before adopting)
    # container name -> the running instance a previous daemon started (adopted at start)
    adopted: dict[str, Instance] = field(default_factory=dict)
    volumes: dict[str, HostVolume] | None = None  # made before its first container is
    # one container and no need of the pod's IP: its first ``run`` starts the pod too
    fast: bool = False
    started: bool = False  # the infra container has been started (the ports are bound)

    async def sandbox_ready(self) -> bool:
        """Wait for the pod's sandbox; False if the pod stopped before it was made."""
        assert self.sandbox is not None
        return await self.sandbox


class PodmanRuntime(RuntimeCore[PodmanPod]):
    """``reconciler.runtime.Runtime`` on podman (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        backoff_initial: float = 10.0,
        backoff_max: float = 300.0,
        image_pull_backoff_initial: float | None = None,
        bind_host: str = "127.0.0.1",
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(
            Path(state_dir).resolve(),
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            image_pull_backoff_initial=image_pull_backoff_initial,
            bind_host=bind_host,
        )
        self._state = state_id(self._state_dir)
        self._on_event = on_event or (lambda *_: None)
        self._tasks: set[asyncio.Future[object]] = set()
        self._waiting: dict[str, Instance] = {}  # podman container name -> its instance
        self._podman: Podman | None = None
        self._events: EventStream | None = None
        self._pulls = images.Puller(self._event)

    @property
    def podman(self) -> Podman:
        if self._podman is None:
            raise PodmanUnavailable("error: the podman runtime has not been started")
        return self._podman

    # -- the Runtime protocol ---------------------------------------------------------------

    async def start(self) -> None:
        """Check podman works here, adopt the pods a previous daemon left running (and
        remove what does not verify), watch events."""
        binary = podman_binary()
        env = configure(self._state_dir)
        podman = Podman(binary, env, cwd=str(podman_dir(self._state_dir)))
        info = await podman.run("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
        if not info.ok:
            raise PodmanUnavailable(
                f"error: podman does not work on this host: {info.error()} "
                "(or run with --runtime process)"
            )
        self._podman = podman
        await adopt(self)
        self._events = EventStream(
            podman,
            filters=[f"label={LABEL_STATE_ID}={self._state}", "type=container", "event=died"],
            on_event=self._on_podman_event,
            on_restart=self._recheck_waiting,
        )
        self._events.start()
        await asyncio.wait_for(self._events.ready.wait(), 30)
        self._recheck_waiting()  # an adopted container may have died before the stream began
        for entry in self._pods.values():
            for container in entry.pod.containers:
                container.task = asyncio.create_task(
                    self._supervise(entry, container),
                    name=f"pod/{entry.pod.spec.name}/{container.name}",
                )
        log.info("podman_ready", oci_runtime=info.stdout.strip(), state_id=self._state)

    async def start_pod(self, spec: PodSpec) -> None:
        if spec.name in self._pods:
            raise ValueError(f"pod {spec.name} already exists")
        record_dir = podman_dir(self._state_dir)
        pod = Pod.create(spec, runtime_dir=record_dir, logs_dir=record_dir)
        self._assign_ports(pod)
        entry = PodmanPod(
            pod=pod,
            name=pod_name(self._state, spec.namespace, spec.name),
            specs={c.name: c.spec for c in pod.containers},
        )
        self._pods[spec.name] = entry
        # the CLI knows it for a podman pod from now on (logs/exec of a container not started)
        self.save(entry)
        log.info("pod_started", pod=spec.name, namespace=spec.namespace, ports=dict(pod.ports))
        self._notify(entry)
        entry.fast = len(pod.containers) == 1 and not needs_pod_ip(entry.specs.values())
        sandbox = create_sandbox(self, entry, start=not entry.fast)
        entry.sandbox = asyncio.create_task(sandbox, name=f"pod/{spec.name}/sandbox")
        for container in pod.containers:
            container.task = asyncio.create_task(
                self._supervise(entry, container), name=f"pod/{spec.name}/{container.name}"
            )

    async def update_pod_config(self, name: str, config: PodConfig) -> list[str]:
        """Rewrite the pod's configMap and secret volumes in place (the kubelet's atomic
        ``..data`` swap, seen through the containers' bind mounts of the volume directory);
        the names of the volumes that changed. Containers started later get the new env."""
        entry = self._pods.get(name)
        if entry is None or entry.pod.terminating:
            return []
        entry.pod.spec = replace(entry.pod.spec, config=config)
        changed: list[str] = []
        if entry.volumes is not None:
            specs = volumes.volume_specs(entry.pod.spec.template.get("spec") or {})
            changed = await asyncio.to_thread(update_config_volumes, specs, entry.volumes, config)
        if changed:
            log.info("volumes_updated", pod=name, volumes=changed)
        with contextlib.suppress(OSError):
            self.save(entry)
        return changed

    async def detach(self) -> None:
        """Stop watching the pods and leave them running (the daemon is stopping; the next
        one adopts them): supervisors and probes end, each pod's record is brought up to date,
        the events stream ends; no podman container is stopped."""
        self._detached = True
        tasks: list[asyncio.Future[Any]] = list(self._tasks)
        for entry in self._pods.values():
            tasks += [c.task for c in entry.pod.containers if c.task is not None]
            if entry.sandbox is not None:
                tasks.append(entry.sandbox)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for entry in self._pods.values():
            for instance in entry.current.values():
                if instance.oom is not None:
                    instance.oom.close()
            if not entry.pod.terminating:
                with contextlib.suppress(OSError):
                    self.save(entry)
        await self._finished()  # pods being deleted finish (their containers are stopping anyway)
        if self._events is not None:
            await self._events.close()
        log.info("podman_detached", pods=len(self._pods))

    async def close(self) -> None:
        await super().close()
        if self._events is not None:
            await self._events.close()

    def _background(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- status and events -----------------------------------------------------------------

    def _status(self, entry: PodmanPod) -> PodStatus:
        status = entry.pod.status(self._bind_host)
        containers = []
        for item in status.containers:
            instance = entry.current.get(item.name)
            if instance is not None:
                item = replace(
                    item, container_id=f"podman://{instance.id}", image_id=instance.image_id
                )
            containers.append(item)
        return replace(status, containers=tuple(containers))

    def _pod_of(self, entry: PodmanPod) -> Pod:
        return entry.pod

    def _notify(self, entry: PodmanPod) -> None:
        self._publish(self._status(entry))

    def _event(self, pod: Pod, kind: str, reason: str, message: str) -> None:
        try:
            self._on_event(pod.spec.namespace, pod.spec.name, kind, reason, message)
        except Exception:
            log.exception("event_sink_failed", pod=pod.spec.name, reason=reason)

    def _on_podman_event(self, event: Event) -> None:
        instance = self._waiting.pop(event.name, None)
        if instance is not None and not instance.exited.done():
            instance.exited.set_result(event.exit_code)

    def _recheck_waiting(self) -> None:
        """After the events stream restarted: ask podman about every container we wait on."""
        for name in list(self._waiting):
            self._background(self._check_exited(name))

    async def _check_exited(self, name: str) -> None:
        state = await self.podman.json("inspect", "--format", "{{json .State}}", name)
        if not isinstance(state, dict) or not state.get("Running"):
            code = state.get("ExitCode") if isinstance(state, dict) else None
            self._on_podman_event(Event("", name, "died", code, {}))

    # -- the pod sandbox -------------------------------------------------------------------

    async def port_taken(self, entry: PodmanPod, error: str) -> bool:
        """A fast pod's first ``run`` found a host port taken: make the pod again on new
        ports (False: the pod is stopping)."""
        log.info("pod_port_taken", pod=entry.pod.spec.name, error=error)
        await self.podman.run("pod", "rm", "-f", "--time", "0", entry.name, timeout=60)
        entry.started = False
        self.new_ports(entry)
        return await create_sandbox(self, entry, start=False)

    def new_ports(self, entry: PodmanPod) -> None:
        pod = entry.pod
        old = set(pod.ports.values())
        pod.ports.clear()
        self._assign_ports(pod)
        self._ports.release(old)
        log.info("pod_ports_reallocated", pod=pod.spec.name, ports=dict(pod.ports))
        self._notify(entry)

    # -- supervising one container ---------------------------------------------------------

    async def _supervise(self, entry: PodmanPod, container: Container) -> None:
        try:
            from reconciler.runtime.podman.supervise import supervise

            await supervise(self, entry, container)
        except Exception:
            log.exception("supervisor_failed", pod=entry.pod.spec.name, container=container.name)
            container.set_waiting("RunContainerError", "supervisor failed; see the daemon log")
            self._notify(entry)

    async def _finish(self, entry: PodmanPod) -> None:
        pod = entry.pod
        tasks = [c.task for c in pod.containers if c.task is not None]
        if entry.sandbox is not None:
            tasks.append(cast(Any, entry.sandbox))
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._detached:
            return  # the daemon let go of it mid-stop: the next one removes it
        removed = await self.podman.run("pod", "rm", "-f", "--time", "0", entry.name, timeout=60)
        if not removed.ok and "no pod with name" not in removed.stderr:
            log.warning("pod_remove_failed", pod=pod.spec.name, error=removed.error())
        for instance in [
            *entry.current.values(),
            *entry.previous.values(),
            *entry.retired.values(),
        ]:
            if instance.oom is not None:
                instance.oom.close()
            self._waiting.pop(instance.name, None)
        self._ports.release(set(pod.ports.values()))
        with contextlib.suppress(OSError):
            remove_record(self._state_dir, pod.spec.namespace, pod.spec.name)
        (podman_dir(self._state_dir) / "auth" / f"{entry.name}.json").unlink(missing_ok=True)
        remove_volumes(
            (entry.volumes or {}).values(),
            pod_dir=volumes.pod_dir(self._state_dir, pod.spec.namespace, pod.spec.name),
        )
        del self._pods[pod.spec.name]
        pod.gone_at = time.time()
        log.info("pod_stopped", pod=pod.spec.name, namespace=pod.spec.namespace)
        self._notify(entry)
        pod.gone.set()

    # -- helpers for the supervisor --------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self._state_dir

    @property
    def state(self) -> str:
        return self._state

    @property
    def bind_host(self) -> str:
        return self._bind_host

    def instance_started(self, entry: PodmanPod, container: Container, instance: Instance) -> None:
        old = entry.retired.pop(container.name, None)
        if container.name in entry.previous:
            entry.retired[container.name] = entry.previous.pop(container.name)
        if container.name in entry.current:
            entry.previous[container.name] = entry.current[container.name]
        entry.current[container.name] = instance
        if old is not None:
            self._background(self.podman.run("rm", "-f", "--time", "0", old.name))
        self.save(entry)

    def save(self, entry: PodmanPod) -> None:
        """Write the pod's record: for the CLI (``logs``/``exec``) and for a successor."""
        record = pod_record(entry)
        write_record(
            self._state_dir,
            entry.pod.spec.namespace,
            entry.pod.spec.name,
            podman_pod=entry.name,
            containers=record.pop("containers"),
            extra=record,
        )

    def entries(self) -> list[PodmanPod]:
        return list(self._pods.values())

    def adopted(self, entry: PodmanPod) -> None:
        """An adopted pod is ours: its host ports are held again; its supervisors start
        once the events stream runs."""
        self._pods[entry.pod.spec.name] = entry
        self._ports.reserve(set(entry.pod.ports.values()))

    def wait_for_exit(self, instance: Instance) -> None:
        self._waiting[instance.name] = instance

    def forget(self, instance: Instance) -> None:
        self._waiting.pop(instance.name, None)

    def backoffs(self) -> tuple[Backoff, Backoff]:
        pulls = Backoff(self._pull_initial, self._backoff_max)
        pulls.next()  # the first pull retry waits the initial back-off, not zero
        return Backoff(self._backoff_initial, self._backoff_max), pulls

    @property
    def pulls(self) -> images.Puller:
        return self._pulls

    @property
    def backoff_max(self) -> float:
        return self._backoff_max

    def notify(self, entry: PodmanPod) -> None:
        self._notify(entry)

    def event(self, entry: PodmanPod, kind: str, reason: str, message: str) -> None:
        self._event(entry.pod, kind, reason, message)

    @staticmethod
    def stop_timeout(seconds: float) -> str:
        """``podman stop --time`` takes whole seconds: round up, never below 0.

        >>> PodmanRuntime.stop_timeout(2.1), PodmanRuntime.stop_timeout(0)
        ('3', '0')
        """
        return str(max(0, math.ceil(seconds)))


__all__ = ["EventSink", "Instance", "PodmanPod", "PodmanRuntime"]
