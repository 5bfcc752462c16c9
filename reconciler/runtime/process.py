"""The process runtime: each pod is a set of containers, each run by a shim that outlives us.

Each container has one supervising task on the daemon's event loop that owns its life from
first start to last exit, so there is exactly one place that decides to start, restart and
stop it; the process itself runs under a shim (``reconciler.runtime.shim``) that owns its
output, its signals and its exit status, and carries on when the daemon stops or dies:

    config ─► executable found? ─► (back-off) ─► shim spawns it ─► Running ─► exit or
       │            │ no: ErrImagePull → ImagePullBackOff, retry          │ liveness/startup
       │ no command: CreateContainerConfigError, wait                    ▼ failure: kill
       └──────────────────────────────── restartPolicy Always ◄── Terminated (exit record)

``start()`` adopts what a previous daemon left (``reconciler.runtime.adopt``): same pods, same
processes, same restart counts, the last known Ready state, the same host ports. ``detach()``
(the daemon stopping) lets go of every shim and leaves the pods running; ``close()`` stops them.

Stopping a pod (``stop_pod``) marks it terminating and notifies subscribers *first* (the proxy
drops the endpoint), then each supervisor runs ``preStop``, has the shim send SIGTERM to the
container's group and SIGKILL once ``terminationGracePeriodSeconds`` (counted from the stop
request) runs out. When a container's main process exits, the shim kills what is left of its
group, as a container runtime does, so no grandchild survives.

Isolation (``reconciler.runtime.isolation``) hooks in here: a pod is placed (``PendingPods``)
before it is launched, which prepares its volumes and cgroups (``Isolation.adopt`` finds them
again after a restart); the shim executes the program behind the isolation wrapper
(``runtime.launch``); OOM kills and start errors are read around each instance; exec probes and
preStop run in the container's mount namespace; a pod that goes (not a detach) tears it down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from reconciler.runtime import PodConfig, PodSpec, PodStatus
from reconciler.runtime import launch as launching
from reconciler.runtime import shim as shim_records
from reconciler.runtime.adopt import (
    Adopted,
    StatusFiles,
    save_pod,
    survey,
)
from reconciler.runtime.container import Container, Pod, ProbeSet
from reconciler.runtime.isolation.pending import PendingPods
from reconciler.runtime.isolation.pods import Isolation, PodIsolation
from reconciler.runtime.layout import (
    container_file,
    make_private_dir,
    pod_logs_dir,
    pod_runtime_dir,
    read_json,
    write_private_json,
)
from reconciler.runtime.lifecycle import (
    Backoff,
    RuntimeCore,
    lost,
    remove_folders,
    terminate,
)
from reconciler.runtime.logs import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FILES,
    keep_as_previous,
)
from reconciler.runtime.probes import ProbeTarget
from reconciler.runtime.records import process_start_time
from reconciler.runtime.supervisor import ExitRecord, ShimHandle, paths, spawn_shim

# a lazy proxy: the daemon configures structlog after this module is imported
log = structlog.get_logger(component="runtime")


class ProcessRuntime(RuntimeCore[Pod]):
    """``reconciler.runtime.Runtime`` on real processes (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        backoff_initial: float = 10.0,
        backoff_max: float = 300.0,
        image_pull_backoff_initial: float | None = None,
        bind_host: str = "127.0.0.1",
        log_max_bytes: int = DEFAULT_MAX_BYTES,
        log_max_files: int = DEFAULT_MAX_FILES,
        isolation: Isolation | None = None,
    ) -> None:
        super().__init__(
            Path(state_dir),
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            image_pull_backoff_initial=image_pull_backoff_initial,
            bind_host=bind_host,
        )
        self._log_max_bytes = log_max_bytes
        self._log_max_files = log_max_files
        self._saved = StatusFiles()  # each pod's status.json, written when it changes
        self._shims: dict[tuple[str, str], ShimHandle] = {}  # (pod, container) -> live shim
        self._daemon = {"pid": os.getpid(), "start_time": process_start_time(os.getpid())}
        # volumes, cgroups and the one-node scheduler (reconciler.runtime.isolation)
        self._isolation = isolation or Isolation(self._state_dir)
        self._isolated: dict[str, PodIsolation] = {}
        self._pending = PendingPods(self._isolation, launch=self._launch, notify=self._notify)

    # -- the Runtime protocol ---------------------------------------------------------------

    async def start(self) -> None:
        """Adopt what a predecessor left running (before any port is handed out)."""
        make_private_dir(self._state_dir / "runtime")
        adopted = await asyncio.to_thread(survey, self._state_dir)
        # after the survey: what it could not adopt has no runtime directory any more, so its
        # volumes and cgroups are leftovers (and what is still in those cgroups is killed)
        self._isolation.start()
        # the placed pods first: their requests count before a held pod is placed again
        for found in sorted(adopted, key=lambda a: bool(a.pod.unschedulable)):
            self._adopt(found)
        if adopted:
            log.info(
                "pods_adopted",
                pods=len(adopted),
                running=sum(
                    isinstance(i, ShimHandle) for a in adopted for i in a.instances.values()
                ),
            )

    async def start_pod(self, spec: PodSpec) -> None:
        if spec.name in self._pods:
            raise ValueError(f"pod {spec.name} already exists")
        runtime_dir = pod_runtime_dir(self._state_dir, spec.namespace, spec.name)
        logs_dir = pod_logs_dir(self._state_dir, spec.namespace, spec.name)
        pod = Pod.create(spec, runtime_dir=runtime_dir, logs_dir=logs_dir)
        for container in pod.containers:
            container_file(runtime_dir, container.name, "")  # validates the name
        self._assign_ports(pod)
        save_pod(pod, daemon=self._daemon)
        make_private_dir(logs_dir)
        self._pods[spec.name] = pod
        log.info("pod_started", pod=spec.name, namespace=spec.namespace, ports=dict(pod.ports))
        self._pending.place(pod)  # launched now, or Pending until its requests fit

    def _launch(self, pod: Pod) -> None:
        self._isolated[pod.spec.name] = self._isolation.prepare(pod.spec, pod.runtime_dir)
        self._supervise_all(pod, {})

    def _supervise_all(
        self, pod: Pod, instances: Mapping[str, ShimHandle | ExitRecord | None]
    ) -> None:
        for container in pod.containers:
            container.task = asyncio.create_task(
                self._supervise(pod, container, instances.get(container.name)),
                name=f"pod/{pod.spec.name}/{container.name}",
            )

    async def update_pod_config(self, name: str, config: PodConfig) -> list[str]:
        """Rewrite the pod's configMap and secret volumes in place (the kubelet's atomic
        ``..data`` swap); the names of the volumes that changed."""
        isolated = self._isolated.get(name)
        if isolated is None:
            return []
        changed = await asyncio.to_thread(isolated.update_config, config)
        if changed:
            log.info("volumes_updated", pod=name, volumes=changed)
        return changed

    async def detach(self) -> None:
        """Let go of every pod and leave it running: the next daemon adopts it."""
        self._detached = True
        tasks = [*self._finishing]
        tasks += [c.task for p in self._pods.values() for c in p.containers if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pod in self._pods.values():
            self._saved.write(pod)
        log.info("pods_left_running", pods=len(self._pods))

    def kill_all(self) -> None:
        """SIGKILL every container now (a forced ``reconciler down``); the pods then finish."""
        for pod in self._pods.values():
            pod.stop_deadline = time.monotonic()
        for handle in list(self._shims.values()):
            handle.send(shim_records.KILL)

    # -- internals -------------------------------------------------------------------------

    def _adopt(self, found: Adopted) -> None:
        pod = found.pod
        self._ports.reserve({p for p in pod.ports.values()})
        self._pods[pod.spec.name] = pod
        self._saved.read_back(pod)  # rewritten only once something changes
        log.info(
            "pod_adopted",
            pod=pod.spec.name,
            namespace=pod.spec.namespace,
            ready=pod.ready,
            terminating=pod.terminating,
            pids=[i.pid for i in found.instances.values() if isinstance(i, ShimHandle)],
        )
        if pod.unschedulable and not pod.terminating:
            self._pending.place(pod)  # never launched: placed (and prepared) as a new pod
        else:
            # its volumes and cgroups are where it left them: found, not made again
            self._isolated[pod.spec.name] = self._isolation.adopt(pod.spec, pod.runtime_dir)
            self._notify(pod)
            self._supervise_all(pod, found.instances)
        if pod.terminating:
            self._begin_finish(pod)  # the stop a predecessor began goes on

    def _pod_of(self, entry: Pod) -> Pod:
        return entry

    def _status(self, entry: Pod) -> PodStatus:
        return entry.status(self._bind_host)

    def _notify(self, entry: Pod) -> None:
        if entry.gone_at is None and not self._detached:
            self._saved.write(entry)
        self._publish(self._status(entry))

    async def _finish(self, pod: Pod) -> None:
        await asyncio.gather(
            *(c.task for c in pod.containers if c.task is not None), return_exceptions=True
        )
        if self._detached:
            return  # the pod runs on: its volumes and cgroups stay for the next daemon
        self._ports.release({p for p in pod.ports.values()})
        isolated = self._isolated.pop(pod.spec.name, None)
        if isolated is not None:
            await isolated.close()
        self._isolation.release(pod.spec.name)
        # off the loop: on a slow disk removing two folders takes milliseconds
        await asyncio.to_thread(remove_folders, pod.runtime_dir, pod.logs_dir)
        del self._pods[pod.spec.name]
        self._saved.forget(pod.spec.name)
        pod.gone_at = time.time()
        log.info("pod_stopped", pod=pod.spec.name, namespace=pod.spec.namespace)
        self._notify(pod)
        pod.gone.set()
        self._pending.retry()

    async def _sleep_unless_stopping(self, pod: Pod, seconds: float) -> bool:
        """Sleep; True if the pod started stopping meanwhile."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pod.stopping.wait(), seconds)
        return pod.terminating

    async def _supervise(
        self, pod: Pod, container: Container, adopted: ShimHandle | ExitRecord | None
    ) -> None:
        try:
            await self._supervise_loop(pod, container, adopted)
        except Exception:
            log.exception("supervisor_failed", pod=pod.spec.name, container=container.name)
            container.set_waiting("RunContainerError", "supervisor failed; see the daemon log")
            self._notify(pod)

    async def _supervise_loop(
        self, pod: Pod, container: Container, adopted: ShimHandle | ExitRecord | None
    ) -> None:
        restarts = Backoff(self._backoff_initial, self._backoff_max)
        pulls = Backoff(self._pull_initial, self._backoff_max)
        pulls.next()  # the first pull retry waits the initial back-off, not zero
        if isinstance(adopted, ShimHandle):
            saved = read_json(container_file(pod.runtime_dir, container.name, ".env.json")) or {}
            env = {str(k): str(v) for k, v in (saved.get("env") or {}).items()}
            cwd = Path(str(saved.get("cwd") or pod.spec.base_dir))
            ran = await self._watch(pod, container, adopted, env=env, cwd=cwd, adopted=True)
            if ran >= 2 * self._backoff_max:
                restarts.reset()
        elif isinstance(adopted, ExitRecord):
            self._terminated(pod, container, adopted)
        while not pod.terminating:
            isolated = self._isolated[pod.spec.name]
            checked = launching.check_start(pod, container, isolated, bind_host=self._bind_host)
            if isinstance(checked, launching.Refused):
                if not checked.retry:
                    container.set_waiting(checked.reason, checked.message)
                    self._notify(pod)
                    await pod.stopping.wait()
                    return
                await self._wait_to_retry(
                    pod, container, pulls, reason=checked.reason, message=checked.message
                )
                continue
            pulls.reset()
            pulls.next()
            if container.instances:
                delay = restarts.next()
                if delay > 0:
                    container.set_waiting(
                        "CrashLoopBackOff",
                        f"back-off {delay:g}s restarting failed container={container.name} "
                        f"pod={pod.spec.name}_{pod.spec.namespace}",
                    )
                    self._notify(pod)
                if await self._sleep_unless_stopping(pod, delay):
                    return
            ran = await self._run_once(pod, container, checked)
            if ran >= 2 * self._backoff_max:
                restarts.reset()  # it ran long enough: the next crash restarts at once again

    async def _wait_to_retry(
        self, pod: Pod, container: Container, pulls: Backoff, *, reason: str, message: str
    ) -> None:
        delay = pulls.next()
        container.set_waiting(reason, message)
        self._notify(pod)
        # show ErrImagePull for a moment, then ImagePullBackOff for the rest of the wait
        shown = min(delay / 2, 1.0)
        if await self._sleep_unless_stopping(pod, shown):
            return
        if reason == "ErrImagePull":
            container.set_waiting("ImagePullBackOff", f'Back-off pulling image "{container.image}"')
            self._notify(pod)
        await self._sleep_unless_stopping(pod, delay - shown)

    async def _run_once(self, pod: Pod, container: Container, launch: launching.Launch) -> float:
        """Start one instance under a new shim, watch it until it is gone; how long it ran.

        The shim executes ``launching.argv``: the container's program behind the isolation
        wrapper (``argv[0]`` a path).
        """
        config = launch.config
        isolated = self._isolated[pod.spec.name]
        current = container_file(pod.logs_dir, container.name, ".log")
        if container.instances:
            keep_as_previous(
                current,
                container_file(pod.logs_dir, container.name, ".previous.log"),
                max_files=self._log_max_files,
            )
        write_private_json(
            container_file(pod.runtime_dir, container.name, ".env.json"),
            {"env": dict(config.env), "cwd": str(config.cwd)},
        )
        started: ShimHandle | ExitRecord
        try:
            argv = launching.argv(isolated, container, launch)
        except OSError as exc:  # a mount plan that cannot be made: a start error
            started = ExitRecord(exit_code=128, signal=None, reason="StartError", message=str(exc))
        else:
            isolated.started(container.name)  # the OOM baseline of this instance
            started = await spawn_shim(
                pod.runtime_dir,
                container.name,
                argv=argv,
                env=config.env,
                cwd=launching.spawn_cwd(config.cwd),
                log=current,
                grace=pod.grace_period,
                max_bytes=self._log_max_bytes,
                max_files=self._log_max_files,
            )
        if isinstance(started, ExitRecord):
            container.instances += 1
            self._terminated(pod, container, started)
            return 0.0
        container.begin_instance()
        log.info("container_started", pod=pod.spec.name, container=container.name, pid=started.pid)
        return await self._watch(pod, container, started, env=config.env, cwd=config.cwd)

    async def _watch(
        self,
        pod: Pod,
        container: Container,
        handle: ShimHandle,
        *,
        env: Mapping[str, str],
        cwd: Path,
        adopted: bool = False,
    ) -> float:
        """Probe a running instance and stop it when asked, until its shim exits; how long it
        ran. Cancelled (the daemon leaving), it lets go of the shim and the instance runs on."""
        started = time.monotonic() - max(time.time() - (container.started_at or time.time()), 0)
        pod.update_ready()
        self._notify(pod)
        # exec probes (and preStop) run inside the container's mount namespace, if it has one
        enter = self._isolated[pod.spec.name].enter_command(container.name, handle.pid, cwd=cwd)
        target = ProbeTarget(
            host=self._bind_host, ports=dict(pod.ports), env=dict(env), cwd=str(cwd), enter=enter
        )
        probes = ProbeSet(
            container, target, on_change=lambda: self._on_probe_change(pod), adopted=adopted
        )
        probes.start()
        exited = handle.exited()
        key = (pod.spec.name, container.name)
        self._shims[key] = handle
        stopping = asyncio.ensure_future(pod.stopping.wait())
        unhealthy = asyncio.ensure_future(container.kill_requested.wait())
        waiters: set[asyncio.Future[Any]] = {exited, stopping, unhealthy}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                reason = "stopping" if pod.terminating else "unhealthy"
                log.info(
                    "container_killing", pod=pod.spec.name, container=container.name, why=reason
                )
                await terminate(pod, container, handle, exited, env=env, cwd=cwd, enter=enter)
            await exited
        except asyncio.CancelledError:  # the daemon is leaving: the instance runs on
            handle.release()
            raise
        except Exception:  # supervising it failed: never leave it running unsupervised
            handle.send(shim_records.KILL)
            handle.release()
            raise
        finally:
            self._shims.pop(key, None)
            stopping.cancel()
            unhealthy.cancel()
            probes.stop()
        handle.release()
        record = ExitRecord.load(paths(pod.runtime_dir, container.name)["exit"])
        self._terminated(pod, container, record or lost(handle))
        return time.monotonic() - started

    def _terminated(self, pod: Pod, container: Container, record: ExitRecord) -> None:
        # the cgroup says OOMKilled, the wrapper's error file StartError (over Completed/Error)
        isolated = self._isolated.get(pod.spec.name)
        overrides = isolated.exited(container.name) if isolated is not None else None
        reason, message = overrides or (record.reason, record.message)
        container.set_terminated(
            exit_code=record.exit_code, signal_number=record.signal, reason=reason
        )
        container.message = message
        pod.update_ready()
        log.info(
            "container_exited",
            pod=pod.spec.name,
            container=container.name,
            exit_code=record.exit_code,
            reason=reason,
        )
        self._notify(pod)

    def _on_probe_change(self, pod: Pod) -> None:
        pod.update_ready()
        self._notify(pod)


__all__ = ["Backoff", "ProcessRuntime"]
