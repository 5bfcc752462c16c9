"""The process runtime: each pod is a set of supervised process groups, one per container.

Everything runs on the daemon's event loop. Each container has one supervisor task that owns
its process from first start to last exit, so there is exactly one place that starts, restarts
and kills it:

    config ─► executable found? ─► (back-off) ─► spawn in own group ─► Running ─► exit or
       │            │ no: ErrImagePull → ImagePullBackOff, retry          │ liveness/startup
       │ no command: CreateContainerConfigError, wait                    ▼ failure: kill
       └──────────────────────────────── restartPolicy Always ◄── Terminated (kill the group)

Output goes through a pipe the supervisor reads (``LogWriter`` rotates by size). The pipe is
not asyncio's, on purpose: asyncio's ``Process.wait()`` waits for its pipes to close, and a
grandchild holding stdout would hide the container's exit.

Stopping a pod (``stop_pod``) marks it terminating and notifies subscribers *first* (the proxy
drops the endpoint), then each supervisor runs ``preStop``, sends SIGTERM to its group and
SIGKILL once ``terminationGracePeriodSeconds`` (counted from the stop request) runs out. When a
container's main process exits, what is left of its group is killed, as a container runtime
does, so no grandchild survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from reconciler.runtime import PodConfig, PodSpec, PodStatus
from reconciler.runtime.config import (
    ConfigError,
    ContainerConfig,
    container_config,
    find_executable,
)
from reconciler.runtime.container import Container, Pod, ProbeSet
from reconciler.runtime.isolation.pending import PendingPods
from reconciler.runtime.isolation.pods import Isolation, PodIsolation
from reconciler.runtime.layout import (
    container_file,
    make_private_dir,
    pod_logs_dir,
    pod_runtime_dir,
    write_private_json,
)
from reconciler.runtime.logs import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FILES,
    LogWriter,
    keep_as_previous,
)
from reconciler.runtime.ports import PortAllocator
from reconciler.runtime.probes import ProbeTarget
from reconciler.runtime.records import ProcessRecord, clean_leftovers, process_start_time

# a lazy proxy: the daemon configures structlog after this module is imported
log = structlog.get_logger(component="runtime")

Callback = Callable[[PodStatus], None]


class Backoff:
    """The kubelet's restart back-off: the first retry at once, then initial, doubling to max.

    >>> b = Backoff(10, 300); [b.next() for _ in range(8)]
    [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    """

    __slots__ = ("_current", "_initial", "_max")

    def __init__(self, initial: float, maximum: float) -> None:
        self._initial = float(initial)
        self._max = float(maximum)
        self._current = 0.0

    def next(self) -> float:
        delay = self._current
        self._current = self._initial if delay == 0 else min(delay * 2, self._max)
        return min(delay, self._max)

    def reset(self) -> None:
        self._current = 0.0


class ProcessRuntime:
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
        self._state_dir = Path(state_dir)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._pull_initial = (
            backoff_initial if image_pull_backoff_initial is None else image_pull_backoff_initial
        )
        self._bind_host = bind_host
        self._log_max_bytes = log_max_bytes
        self._log_max_files = log_max_files
        self._ports = PortAllocator(bind_host)
        self._pods: dict[str, Pod] = {}
        self._subscribers: list[Callback] = []
        self._finishing: set[asyncio.Task[None]] = set()
        self._daemon = {"pid": os.getpid(), "start_time": process_start_time(os.getpid())}
        # volumes, cgroups and the one-node scheduler (reconciler.runtime.isolation)
        self._isolation = isolation or Isolation(self._state_dir)
        self._isolated: dict[str, PodIsolation] = {}
        self._pending = PendingPods(self._isolation, launch=self._launch, notify=self._notify)

    # -- the Runtime protocol ---------------------------------------------------------------

    async def start(self) -> None:
        """Kill what a crashed predecessor left running (before its ports are handed out)."""
        killed = clean_leftovers(self._state_dir)
        if killed:
            log.warning("leftovers_killed", pids=killed)
        make_private_dir(self._state_dir / "runtime")
        self._isolation.start()

    async def start_pod(self, spec: PodSpec) -> None:
        if spec.name in self._pods:
            raise ValueError(f"pod {spec.name} already exists")
        runtime_dir = pod_runtime_dir(self._state_dir, spec.namespace, spec.name)
        logs_dir = pod_logs_dir(self._state_dir, spec.namespace, spec.name)
        pod = Pod.create(spec, runtime_dir=runtime_dir, logs_dir=logs_dir)
        for container in pod.containers:
            container_file(runtime_dir, container.name, "")  # validates the name
        for number, name in pod.declared_ports():
            host_port = pod.ports.get(number) or self._ports.allocate()
            pod.ports[number] = host_port
            if name:
                pod.ports[name] = host_port
        write_private_json(
            runtime_dir / "pod.json",
            {
                "name": spec.name,
                "namespace": spec.namespace,
                "containers": [c.name for c in pod.containers],
                "ports": pod.ports,
                "daemon": self._daemon,
            },
        )
        make_private_dir(logs_dir)
        self._pods[spec.name] = pod
        log.info("pod_started", pod=spec.name, namespace=spec.namespace, ports=dict(pod.ports))
        self._pending.place(pod)  # launched now, or Pending until its requests fit

    def _launch(self, pod: Pod) -> None:
        self._isolated[pod.spec.name] = self._isolation.prepare(pod.spec, pod.runtime_dir)
        for container in pod.containers:
            container.task = asyncio.create_task(
                self._supervise(pod, container), name=f"pod/{pod.spec.name}/{container.name}"
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

    async def stop_pod(self, name: str) -> None:
        pod = self._pods.get(name)
        if pod is None or pod.terminating:
            return
        pod.terminating = True
        pod.stop_deadline = time.monotonic() + pod.grace_period
        pod.update_ready()
        # subscribers (the proxy) hear of it before any signal is sent
        self._notify(pod)
        pod.stopping.set()
        task = asyncio.create_task(self._finish(pod), name=f"pod/{name}/finish")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def pods(self) -> list[PodStatus]:
        return [pod.status(self._bind_host) for pod in self._pods.values()]

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    async def close(self) -> None:
        for name in list(self._pods):
            await self.stop_pod(name)
        while self._finishing:
            await asyncio.gather(*list(self._finishing), return_exceptions=True)

    async def wait_gone(self, name: str) -> None:
        """Wait until a stopping pod is gone (for tests and the benchmark)."""
        while name in self._pods:
            pod = self._pods[name]
            await pod.gone.wait()

    # -- internals -------------------------------------------------------------------------

    def _notify(self, pod: Pod) -> None:
        status = pod.status(self._bind_host)
        for callback in list(self._subscribers):
            try:
                callback(status)
            except Exception:
                log.exception("subscriber_failed", pod=pod.spec.name)

    async def _finish(self, pod: Pod) -> None:
        await asyncio.gather(
            *(c.task for c in pod.containers if c.task is not None), return_exceptions=True
        )
        self._ports.release({p for p in pod.ports.values()})
        isolated = self._isolated.pop(pod.spec.name, None)
        if isolated is not None:
            await isolated.close()
        self._isolation.release(pod.spec.name)
        shutil.rmtree(pod.runtime_dir, ignore_errors=True)
        shutil.rmtree(pod.logs_dir, ignore_errors=True)
        del self._pods[pod.spec.name]
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

    async def _supervise(self, pod: Pod, container: Container) -> None:
        try:
            await self._supervise_loop(pod, container)
        except Exception:
            log.exception("supervisor_failed", pod=pod.spec.name, container=container.name)
            container.set_waiting("RunContainerError", "supervisor failed; see the daemon log")
            self._notify(pod)

    async def _supervise_loop(self, pod: Pod, container: Container) -> None:
        restarts = Backoff(self._backoff_initial, self._backoff_max)
        pulls = Backoff(self._pull_initial, self._backoff_max)
        pulls.next()  # the first pull retry waits the initial back-off, not zero
        while not pod.terminating:
            try:
                config = container_config(
                    container.spec,
                    variables=pod.variables(container, self._bind_host),
                    labels=pod.spec.labels,
                    base_dir=pod.spec.base_dir,
                    config=pod.spec.config,
                    template=pod.spec.template,
                )
            except ConfigError as exc:
                container.set_waiting("CreateContainerConfigError", str(exc))
                self._notify(pod)
                await pod.stopping.wait()
                return
            isolated = self._isolated[pod.spec.name]
            if isolated.error:
                container.set_waiting("CreateContainerConfigError", isolated.error)
                self._notify(pod)
                await pod.stopping.wait()
                return
            config = dataclasses.replace(config, env={**config.env, **isolated.env(container.name)})
            program = find_executable(config.argv[0], path=config.env["PATH"], cwd=config.cwd)
            if program is None and isolated.exists_inside(
                container.name, config.argv[0], executable=True
            ):
                program = config.argv[0]  # a script from a volume, at its mountPath
            problem = ""
            reason = "ErrImagePull"
            if program is None:
                problem = (
                    f'failed to pull image "{container.image}": exec: "{config.argv[0]}": '
                    "executable file not found in $PATH"
                )
            elif not config.cwd.is_dir() and not isolated.exists_inside(
                container.name, str(config.cwd)
            ):
                reason = "CreateContainerError"
                problem = f'working directory "{config.cwd}" does not exist'
            if problem:
                await self._wait_to_retry(pod, container, pulls, reason=reason, message=problem)
                continue
            assert program is not None
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
            ran = await self._run_once(pod, container, program=program, config=config)
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

    async def _run_once(
        self, pod: Pod, container: Container, *, program: str, config: ContainerConfig
    ) -> float:
        """Start one instance, supervise it until it is gone; returns how long it ran."""
        current = container_file(pod.logs_dir, container.name, ".log")
        if container.instances:
            keep_as_previous(
                current,
                container_file(pod.logs_dir, container.name, ".previous.log"),
                max_files=self._log_max_files,
            )
        writer = LogWriter(current, max_bytes=self._log_max_bytes, max_files=self._log_max_files)
        read_fd, write_fd = os.pipe()
        isolated = self._isolated[pod.spec.name]
        try:
            argv = isolated.command(container.name, [program, *config.argv[1:]], cwd=config.cwd)
            isolated.started(container.name)
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(config.env),
                # a workingDir inside a volume exists only once the wrapper has mounted it
                cwd=config.cwd if config.cwd.is_dir() else "/",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            writer.close()
            container.instances += 1
            container.set_terminated(exit_code=128, signal_number=None, reason="StartError")
            container.message = str(exc)
            self._notify(pod)
            return 0.0
        os.close(write_fd)
        try:
            return await self._supervise_instance(
                pod, container, process=process, config=config, read_fd=read_fd, writer=writer
            )
        except BaseException:
            # never leave a process behind if supervising it failed (or was cancelled)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            raise

    async def _supervise_instance(
        self,
        pod: Pod,
        container: Container,
        *,
        process: asyncio.subprocess.Process,
        config: ContainerConfig,
        read_fd: int,
        writer: LogWriter,
    ) -> float:
        pump = _LogPump(read_fd, writer)
        record_path = container_file(pod.runtime_dir, container.name, ".proc.json")
        ProcessRecord.of(process.pid).save(record_path)
        write_private_json(
            container_file(pod.runtime_dir, container.name, ".env.json"),
            {"env": dict(config.env), "cwd": str(config.cwd)},
        )
        started = time.monotonic()
        container.begin_instance(process)
        log.info("container_started", pod=pod.spec.name, container=container.name, pid=process.pid)
        pod.update_ready()
        self._notify(pod)
        isolated = self._isolated[pod.spec.name]
        target = ProbeTarget(
            host=self._bind_host,
            ports=dict(pod.ports),
            env=dict(config.env),
            cwd=str(config.cwd),
            enter=isolated.enter_command(container.name, process.pid, cwd=config.cwd),
        )
        probes = ProbeSet(container, target, on_change=lambda: self._on_probe_change(pod))
        probes.start()
        exited = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(pod.stopping.wait())
        unhealthy = asyncio.ensure_future(container.kill_requested.wait())
        try:
            await asyncio.wait({exited, stopping, unhealthy}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            unhealthy.cancel()
            probes.stop()
        if not exited.done():
            reason = "stopping" if pod.terminating else "unhealthy"
            log.info("container_killing", pod=pod.spec.name, container=container.name, why=reason)
            await self._terminate(pod, container, process, exited, config=config)
        returncode = await exited
        # what the main process left behind in its group goes with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await pump.drain(timeout=1.0)
        writer.close()
        with contextlib.suppress(FileNotFoundError):
            record_path.unlink()
        signal_number = -returncode if returncode < 0 else None
        exit_code = 128 + signal_number if signal_number else returncode
        reason, message = self._isolated[pod.spec.name].exited(container.name) or (
            "Completed" if exit_code == 0 else "Error",
            "",
        )
        container.set_terminated(exit_code=exit_code, signal_number=signal_number, reason=reason)
        container.message = message
        pod.update_ready()
        log.info(
            "container_exited", pod=pod.spec.name, container=container.name, exit_code=exit_code
        )
        self._notify(pod)
        return time.monotonic() - started

    def _on_probe_change(self, pod: Pod) -> None:
        pod.update_ready()
        self._notify(pod)

    async def _terminate(
        self,
        pod: Pod,
        container: Container,
        process: asyncio.subprocess.Process,
        exited: asyncio.Future[int],
        *,
        config: ContainerConfig,
    ) -> None:
        """preStop, SIGTERM to the group, SIGKILL when the grace period is over."""
        deadline = pod.stop_deadline if pod.terminating else time.monotonic() + pod.grace_period
        isolated = self._isolated[pod.spec.name]
        enter = isolated.enter_command(container.name, process.pid, cwd=config.cwd)
        await _pre_stop(container, config=config, deadline=deadline, exited=exited, enter=enter)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), remaining)
        if not exited.done():
            log.info("container_sigkill", pod=pod.spec.name, container=container.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


async def _pre_stop(
    container: Container,
    *,
    config: ContainerConfig,
    deadline: float,
    exited: asyncio.Future[int],
    enter: tuple[str, ...] = (),
) -> None:
    """Run ``lifecycle.preStop`` (``exec`` or ``sleep``) within the grace period."""
    hook = (container.spec.get("lifecycle") or {}).get("preStop") or {}
    budget = deadline - time.monotonic()
    if budget <= 0 or not isinstance(hook, dict):
        return
    if isinstance(hook.get("sleep"), dict):
        seconds = float(hook["sleep"].get("seconds", 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), min(seconds, budget))
        return
    exec_hook = hook.get("exec")
    command = exec_hook.get("command") if isinstance(exec_hook, dict) else None
    if not command:
        return
    try:
        hook_process = await asyncio.create_subprocess_exec(
            *enter,  # into the container's mount namespace, when it has one
            *[str(part) for part in command],
            env=dict(config.env),
            cwd="/" if enter else config.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("prestop_failed", container=container.name, error=str(exc))
        return
    try:
        await asyncio.wait_for(hook_process.wait(), budget)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(hook_process.pid, signal.SIGKILL)
        await hook_process.wait()


class _LogPump:
    """Copies a container's output pipe into its log file from the event loop."""

    def __init__(self, fd: int, writer: LogWriter) -> None:
        self._fd = fd
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._writer.write(data)
            return
        self._close()

    def _close(self) -> None:
        if self._done.done():
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._done.set_result(None)

    async def drain(self, *, timeout: float) -> None:
        """Wait for EOF (every writer gone); give up after ``timeout`` (an escaped daemon)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done), timeout)
        self._close()


__all__ = ["Backoff", "ProcessRuntime"]
