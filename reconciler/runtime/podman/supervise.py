"""One container's life on podman: pull, create, start, watch, stop, restart with back-off.

The same ladder as the process runtime's supervisor (``reconciler.runtime.process``), with
podman's steps in place of ``exec``; the kubelet's reasons at each rung: ``ErrImagePull`` /
``ImagePullBackOff`` / ``ErrImageNeverPull`` while the image is not there,
``CreateContainerConfigError`` when the env cannot be built, ``CreateContainerError`` when
podman refuses the container, ``StartError`` (exit code 128) when its command cannot start,
``CrashLoopBackOff`` between restarts, ``OOMKilled`` (137) when the kernel killed it at its
memory limit. Stopping: ``preStop`` (``exec`` through ``podman exec``, or ``sleep``) within
the grace period, then ``podman stop --time <what is left>`` (the image's stop signal, then
SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from reconciler.runtime.config import ConfigError
from reconciler.runtime.container import Container, ProbeSet
from reconciler.runtime.podman import images, volumes
from reconciler.runtime.podman.env import container_env, with_exec_via_podman
from reconciler.runtime.podman.host import podman_dir
from reconciler.runtime.podman.oom import OomWatch, watch_oom
from reconciler.runtime.podman.translate import (
    LABEL_CONTAINER,
    container_name,
    create_args,
    labels,
    normalize_image,
    pull_policy,
)
from reconciler.runtime.probes import ProbeTarget

if TYPE_CHECKING:
    from reconciler.runtime.podman.runtime import Instance, PodmanPod, PodmanRuntime

log = structlog.get_logger(component="runtime", runtime="podman")
T = TypeVar("T")


async def _sleep_unless_stopping(entry: PodmanPod, seconds: float) -> bool:
    """Sleep; True if the pod started stopping meanwhile."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.pod.stopping.wait(), seconds)
    return entry.pod.terminating


async def _unless_stopping(entry: PodmanPod, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None (and ``work`` cancelled) if the pod starts stopping first."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(entry.pod.stopping.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def supervise(runtime: PodmanRuntime, entry: PodmanPod, container: Container) -> None:
    restarts, pulls = runtime.backoffs()
    spec = entry.specs[container.name]
    ref = normalize_image(container.image)
    policy = pull_policy(spec)
    auth_file = _auth_file(runtime, entry)
    # IfNotPresent/Never: run at once with ``--pull never``; only a missing image costs the
    # image check (one podman call less before Ready in the common case)
    optimistic = policy != "Always"
    adopted = entry.adopted.pop(container.name, None)
    if adopted is not None:  # a previous daemon started it: watch it from where it is
        ran = await _watch(runtime, entry, container, adopted, adopted=True)
        if ran >= 2 * runtime.backoff_max:
            restarts.reset()
        if not await _restart_delay(runtime, entry, container, restarts):
            return
    while not entry.pod.terminating:
        if optimistic:
            try:
                argv = run_argv(runtime, entry, container, image=ref)
            except ConfigError as exc:
                await _config_error(runtime, entry, container, exc)
                return
            if not await entry.sandbox_ready():
                return
            try:
                ran = await _run_once(runtime, entry, container, argv, image_id="", pull=False)
            except _ImageMissing:
                optimistic = False
                continue
            if ran >= 2 * runtime.backoff_max:
                restarts.reset()
            if not await _restart_delay(runtime, entry, container, restarts):
                return
            continue
        outcome = await _unless_stopping(
            entry,
            runtime.pulls.ensure(
                runtime.podman,
                entry.pod,
                image=container.image,
                ref=ref,
                policy=policy,
                auth_file=auth_file,
            ),
        )
        if outcome is None:
            return  # deleted while pulling: the pull is abandoned (its podman process killed)
        if not outcome.ok:
            await _wait_to_pull_again(
                runtime, entry, container, pulls, outcome.reason, outcome.error
            )
            continue
        pulls.reset()
        pulls.next()
        if not await entry.sandbox_ready():
            return  # stopped before the pod's sandbox was up
        try:
            argv = run_argv(runtime, entry, container, image=ref)
        except ConfigError as exc:
            await _config_error(runtime, entry, container, exc)
            return
        try:
            ran = await _run_once(
                runtime, entry, container, argv, image_id=outcome.image_id, pull=True
            )
        except _ImageMissing:  # removed between the check and the run: check again
            continue
        if ran >= 2 * runtime.backoff_max:
            restarts.reset()  # it ran long enough: the next crash restarts at once again
        if not await _restart_delay(runtime, entry, container, restarts):
            return
        optimistic = policy != "Always"


class _ImageMissing(Exception):
    """``run --pull never`` found no image: check (and pull) it the kubelet's way."""


async def _config_error(
    runtime: PodmanRuntime, entry: PodmanPod, container: Container, exc: ConfigError
) -> None:
    container.set_waiting("CreateContainerConfigError", str(exc))
    runtime.event(entry, "Warning", "Failed", f"Error: {exc}")
    runtime.notify(entry)
    await entry.pod.stopping.wait()


async def _restart_delay(
    runtime: PodmanRuntime, entry: PodmanPod, container: Container, restarts: Any
) -> bool:
    """After an instance ended: the CrashLoopBackOff wait; False if the pod stops meanwhile."""
    if entry.pod.terminating:
        return False
    if not container.instances:
        return True  # nothing ran yet (a port taken at the first start): at once
    delay = float(restarts.next())
    if delay > 0:
        container.set_waiting(
            "CrashLoopBackOff",
            f"back-off {delay:g}s restarting failed container={container.name} "
            f"pod={entry.pod.spec.name}_{entry.pod.spec.namespace}",
        )
        runtime.event(
            entry,
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {container.name} in pod "
            f"{entry.pod.spec.name}_{entry.pod.spec.namespace}",
        )
        runtime.notify(entry)
    return not await _sleep_unless_stopping(entry, delay)


async def _wait_to_pull_again(
    runtime: PodmanRuntime,
    entry: PodmanPod,
    container: Container,
    pulls: Any,
    reason: str,
    message: str,
) -> None:
    delay = float(pulls.next())
    container.set_waiting(reason, message)
    runtime.notify(entry)
    # show ErrImagePull for a moment, then ImagePullBackOff for the rest of the wait
    shown = min(delay / 2, 1.0)
    if await _sleep_unless_stopping(entry, shown):
        return
    if reason == "ErrImagePull":
        back_off = f'Back-off pulling image "{container.image}"'
        container.set_waiting("ImagePullBackOff", back_off)
        runtime.event(entry, "Normal", "BackOff", back_off)
        runtime.event(entry, "Warning", "Failed", "Error: ImagePullBackOff")
        runtime.notify(entry)
    await _sleep_unless_stopping(entry, delay - shown)


async def _run_once(
    runtime: PodmanRuntime,
    entry: PodmanPod,
    container: Container,
    argv: list[str],
    *,
    image_id: str,
    pull: bool,
) -> float:
    """Run one instance (``podman run --detach``: create and start in one call), watch it
    until it is gone; how long it ran."""
    from reconciler.runtime.podman.runtime import Instance

    podman = runtime.podman
    name = argv[argv.index("--name") + 1]
    instance = Instance(name=name, image_id=image_id)
    runtime.wait_for_exit(instance)  # by name: the death may come before ``run`` returns
    if not pull:
        argv = [argv[0], argv[1], "--pull", "never", *argv[2:]]
    ran = await podman.run(*argv, timeout=120)
    if not ran.ok and "image not known" in ran.stderr:
        runtime.forget(instance)
        raise _ImageMissing(ran.error())
    if not entry.started:
        if not ran.ok and "address already in use" in ran.stderr:
            runtime.forget(instance)
            await runtime.port_taken(entry, ran.error())
            return 0.0  # not an attempt: the next one runs at once, on new ports
        entry.started = ran.ok
    if not ran.ok:
        container.instances += 1  # counts as an attempt: the next one backs off
        found = await podman.run("inspect", "--format", "{{.Id}}", name, timeout=60)
        if not found.ok:  # podman refused to create it
            runtime.forget(instance)
            container.set_waiting("CreateContainerError", ran.error())
        else:  # created, but its command could not start
            instance.id = found.stdout.strip()
            container.set_terminated(exit_code=128, signal_number=None, reason="StartError")
            container.message = ran.error()
            runtime.instance_started(entry, container, instance)
        runtime.event(entry, "Warning", "Failed", f"Error: {ran.error()}")
        runtime.notify(entry)
        return 0.0
    instance.id = ran.stdout.strip().splitlines()[-1]
    if not pull:
        message = f'Container image "{container.image}" already present on machine'
        runtime.event(entry, "Normal", "Pulled", message)
    container.spec = with_exec_via_podman(
        entry.specs[container.name], binary=podman.binary, container_id=instance.id
    )
    container.begin_instance()
    runtime.instance_started(entry, container, instance)
    runtime.event(entry, "Normal", "Created", f"Created container {container.name}")
    runtime.event(entry, "Normal", "Started", f"Started container {container.name}")
    log.info("container_started", pod=entry.pod.spec.name, container=container.name)
    entry.pod.update_ready()
    runtime.notify(entry)
    return await _watch(runtime, entry, container, instance, adopted=False)


async def _watch(
    runtime: PodmanRuntime,
    entry: PodmanPod,
    container: Container,
    instance: Instance,
    *,
    adopted: bool,
) -> float:
    """Probe a running instance and wait for its end (its death, the pod stopping, a failed
    liveness probe); how long it ran. An adopted one keeps its Ready state and start time."""
    podman = runtime.podman
    began = time.monotonic() - max(0.0, time.time() - (container.started_at or time.time()))
    probes = ProbeSet(
        container,
        _probe_target(runtime, entry),
        on_change=lambda: _ready(runtime, entry),
        adopted=adopted,
    )
    probes.start()
    if watch_oom(entry.specs[container.name]) or not instance.image_id:
        # after Running was reported: the pid (to watch for the OOM killer), the image's ID
        state = await podman.json(
            "inspect", "--format", '{"pid": {{.State.Pid}}, "image": "{{.Image}}"}', instance.id
        )
        if isinstance(state, dict):
            if state.get("image") and not instance.image_id:
                instance.image_id = f"sha256:{state['image']}"
                runtime.notify(entry)
            pid = int(state.get("pid") or 0)
            if pid > 0 and watch_oom(entry.specs[container.name]):
                instance.oom = OomWatch.of(pid)
    stopping = asyncio.ensure_future(entry.pod.stopping.wait())
    unhealthy = asyncio.ensure_future(container.kill_requested.wait())
    try:
        waits: set[asyncio.Future[Any]] = {instance.exited, stopping, unhealthy}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        unhealthy.cancel()
        probes.stop()
    if not instance.exited.done():
        why = "stopping" if entry.pod.terminating else "unhealthy"
        log.info("container_killing", pod=entry.pod.spec.name, container=container.name, why=why)
        await _terminate(runtime, entry, container, instance)
    await _exit_status(runtime, entry, container, instance)
    return time.monotonic() - began


def run_argv(
    runtime: PodmanRuntime, entry: PodmanPod, container: Container, *, image: str
) -> list[str]:
    """``podman run --detach`` argv for the container's next instance (ConfigError when its
    env or volumes cannot be built)."""
    spec = entry.pod.spec
    env, command, args = container_env(
        entry.specs[container.name],
        pod=spec,
        pod_ip=entry.ip,
        ports=entry.pod.declared_ports(),
    )
    name = container_name(entry.name, container.name, container.instances)
    argv = ["run", "--detach", "--pod", entry.name, "--name", name, "--restart", "no"]
    argv += labels(
        state_dir=str(runtime.state_dir),
        state=runtime.state,
        namespace=spec.namespace,
        pod=spec.name,
        owner=spec.owner,
    )
    argv += ["--label", f"{LABEL_CONTAINER}={container.name}"]
    argv += ["--log-driver", "k8s-file", "--log-opt", "max-size=10mb"]
    pod_spec = spec.template.get("spec") or {}
    if entry.volumes is None:  # once per pod: its containers share them
        entry.volumes = volumes.prepare(
            pod_spec,
            state_dir=runtime.state_dir,
            config=spec.config,
            namespace=spec.namespace,
            pod=spec.name,
        )
    argv += volumes.volume_flags(pod_spec, entry.specs[container.name], entry.volumes)
    argv += create_args(
        entry.specs[container.name], image=image, env=env, command=command, args=args
    )
    return argv


def _ready(runtime: PodmanRuntime, entry: PodmanPod) -> None:
    entry.pod.update_ready()
    runtime.notify(entry)
    runtime.save(entry)  # the Ready state a successor starts from


async def _terminate(
    runtime: PodmanRuntime, entry: PodmanPod, container: Container, instance: Instance
) -> None:
    """preStop, then ``podman stop`` with what is left of the grace period."""
    if entry.pod.terminating:
        runtime.event(entry, "Normal", "Killing", f"Stopping container {container.name}")
    else:
        runtime.event(
            entry,
            "Normal",
            "Killing",
            f"Container {container.name} failed its probe, will be restarted",
        )
    deadline = time.monotonic() + _grace_left(entry)
    await _pre_stop(runtime, entry, container, instance, deadline=deadline)
    left = runtime.stop_timeout(deadline - time.monotonic())
    await runtime.podman.run("stop", "--time", left, instance.name, timeout=float(left) + 60)


async def _pre_stop(
    runtime: PodmanRuntime,
    entry: PodmanPod,
    container: Container,
    instance: Instance,
    *,
    deadline: float,
) -> None:
    hook = (entry.specs[container.name].get("lifecycle") or {}).get("preStop") or {}
    budget = deadline - time.monotonic()
    if budget <= 0 or not isinstance(hook, dict):
        return
    if isinstance(hook.get("sleep"), dict):
        seconds = float(hook["sleep"].get("seconds", 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(instance.exited), min(seconds, budget))
        return
    exec_hook = hook.get("exec")
    command = exec_hook.get("command") if isinstance(exec_hook, dict) else None
    if command:
        result = await runtime.podman.run(
            "exec", instance.name, *[str(part) for part in command], timeout=budget
        )
        if not result.ok:
            runtime.event(
                entry,
                "Warning",
                "FailedPreStopHook",
                f"PreStopHook failed: {result.error()}",
            )


async def _exit_status(
    runtime: PodmanRuntime, entry: PodmanPod, container: Container, instance: Instance
) -> None:
    """Wait for the death, then read its exit code and whether it was the OOM killer."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(instance.exited), 5.0)
            break
        # no event yet: ask podman (a lost event must not leave the container "Running")
        state = await runtime.podman.json("inspect", "--format", "{{json .State}}", instance.name)
        if not isinstance(state, dict) or not state.get("Running"):
            break
    state = await runtime.podman.json("inspect", "--format", "{{json .State}}", instance.name)
    code = instance.exited.result() if instance.exited.done() else None
    oom = False
    if isinstance(state, dict):
        code = int(state.get("ExitCode", code if code is not None else 0))
        oom = bool(state.get("OOMKilled"))
    if instance.oom is not None:
        instance.oom.close()
        oom = oom or instance.oom.killed
        instance.oom = None
    if code is None:
        code = 137
    reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
    container.set_terminated(exit_code=code, signal_number=None, reason=reason)
    entry.pod.update_ready()
    log.info(
        "container_exited",
        pod=entry.pod.spec.name,
        container=container.name,
        exit_code=code,
        reason=reason,
    )
    runtime.notify(entry)


def _auth_file(runtime: PodmanRuntime, entry: PodmanPod) -> Path | None:
    """The pod's ``imagePullSecrets`` as a 0600 podman auth file (None: podman's own)."""
    path = podman_dir(runtime.state_dir) / "auth" / f"{entry.name}.json"
    written, missing = images.write_auth_file(path, entry.pod.spec)
    for name in missing:
        runtime.event(
            entry,
            "Warning",
            "FailedToRetrieveImagePullSecret",
            f"Unable to retrieve some image pull secrets ({name}); attempting to pull the "
            "image may not succeed.",
        )
    return written


def _probe_target(runtime: PodmanRuntime, entry: PodmanPod) -> ProbeTarget:
    return ProbeTarget(
        host=runtime.bind_host,
        ports=dict(entry.pod.ports),
        env=dict(runtime.podman.env),
        cwd=str(runtime.state_dir),
    )


def _grace_left(entry: PodmanPod) -> float:
    pod = entry.pod
    deadline = pod.stop_deadline if pod.terminating else time.monotonic() + pod.grace_period
    return max(0.0, deadline - time.monotonic())


__all__ = ["supervise"]
