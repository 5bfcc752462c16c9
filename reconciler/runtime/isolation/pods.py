"""One pod's isolation through its life, as the process runtime drives it.

    Isolation.admit(spec)          the one-node scheduler: "" or FailedScheduling's message
    Isolation.prepare(spec, dir)   -> PodIsolation: volumes on the host side, container cgroups
    PodIsolation.env(c)            variables to add (volume paths where nothing can be mounted)
    PodIsolation.command(c, argv)  argv behind the exec wrapper, when there is anything to do
    PodIsolation.started(c) / exited(c)   OOM kills counted per instance; StartError's message
    PodIsolation.update_config(cfg)       configMap/secret volumes rewritten in place
    PodIsolation.teardown()        cgroups and volumes gone (a claim's directory stays)

The runtime's spawn path only ever sees an argv and an env: ``command`` returns
``[python, -I, -S, .../isolation/enter.py, SPEC, --, *argv]``, so it composes with any
supervisor that starts the container's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from reconciler.errors import ReconcilerError
from reconciler.runtime import PodConfig, PodSpec
from reconciler.runtime.isolation import capabilities as caps
from reconciler.runtime.isolation import cgroups
from reconciler.runtime.isolation.mounts import MountPathError
from reconciler.runtime.isolation.quantity import QuantityError
from reconciler.runtime.isolation.schedule import (
    Resources,
    container_limits,
    host_capacity,
    pod_requests,
    unschedulable,
)
from reconciler.runtime.isolation.volumes import (
    HostVolume,
    VolumeError,
    container_mounts,
    existing_volumes,
    pod_volumes_dir,
    prepare_volumes,
    remove_volumes,
    unmount_leftovers,
    update_config_volumes,
)
from reconciler.runtime.layout import container_file, make_private_dir, write_private_json

log = structlog.get_logger(component="isolation")

# the exec wrapper run as a file, without site: a bare interpreter's start-up, nothing more
WRAPPER = ("-I", "-S", os.fspath(Path(__file__).with_name("enter.py")))
SHELL = "/bin/sh"
# without util-linux's nsenter: argv[1] the namespace file, argv[2] the directory, then the command
SETNS_AND_EXEC = (
    "import ctypes, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
    "if ctypes.CDLL(None, use_errno=True).setns(fd, 0x20000) != 0: sys.exit(126)\n"
    "os.chdir(sys.argv[2]); os.execvp(sys.argv[3], sys.argv[3:])\n"
)
# $1 the error file, then cgroup.procs files up to "--", then the command; $$ is the shell's
# pid, which the exec keeps
JOIN_CGROUPS = (
    'error=$1; shift; while [ "$1" != "--" ]; do '
    'echo $$ 2>/dev/null > "$1" || { echo "failed to create containerd task: cannot join '
    'cgroup $1" | tee "$error" >&2; exit 128; }; shift; done; shift; exec "$@"'
)


class Isolation:
    """The host's side: what it can do, what is placed on it, and leftovers of a crash."""

    def __init__(
        self,
        state_dir: Path,
        *,
        capabilities: caps.Capabilities | None = None,
        capacity: Resources | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._capabilities = capabilities
        self.capacity = capacity or host_capacity()
        self._placed: dict[str, Resources] = {}

    @property
    def capabilities(self) -> caps.Capabilities:
        if self._capabilities is None:
            self._capabilities = caps.detect()
        return self._capabilities

    def start(self) -> caps.Capabilities:
        """Detect and report what the host allows; clean what a crashed daemon left."""
        found = self.capabilities
        caps.save(self.state_dir, found)
        level = log.info if found.cgroups and found.mount_namespace else log.warning
        level(
            "isolation_detected",
            cgroups=found.cgroup_version or "none",
            cgroup_problem=found.cgroup_problem or None,
            mount_namespace=found.mount_namespace,
            mount_problem=found.mount_problem or None,
            cpu_millis=self.capacity.cpu_millis,
            memory=self.capacity.memory,
        )
        self._clean_leftovers()
        return found

    def _clean_leftovers(self) -> None:
        """Volumes and cgroups of pods that have no runtime directory any more."""
        volumes = self.state_dir / "volumes"
        runtime = self.state_dir / "runtime"
        stale = [
            pod
            for namespace in _subdirs(volumes)
            for pod in _subdirs(namespace)
            if not (runtime / namespace.name / pod.name).exists()
        ]
        if stale:
            unmounted = unmount_leftovers(stale)
            for pod in stale:
                remove_volumes([], pod_dir=pod)
            log.warning("volumes_left_over_removed", pods=[p.name for p in stale], tmpfs=unmounted)
        hierarchy = self.capabilities.cgroups
        if hierarchy is None:
            return
        for top in hierarchy.top(self.state_dir):
            for namespace in _subdirs(top):
                for pod in _subdirs(namespace):
                    if not (runtime / namespace.name / pod.name).exists():
                        cgroups.kill_tree(pod)  # what escaped the process groups, too
                        if not cgroups.remove_tree(pod):
                            log.warning("cgroup_left_over", cgroup=str(pod))
                with contextlib.suppress(OSError):
                    namespace.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()

    # -- scheduling ---------------------------------------------------------------------------

    def adopt(self, spec: PodSpec, runtime_dir: Path) -> PodIsolation:
        """A pod that outlived its daemon: its requests count again and its volumes and cgroups
        are found where they are; nothing is created, written or mounted a second time."""
        with contextlib.suppress(QuantityError):
            self._placed[spec.name] = pod_requests(spec.template)
        pod = PodIsolation(self, spec, runtime_dir)
        pod.attach()
        return pod

    def admit(self, spec: PodSpec) -> str:
        """Place the pod if its requests fit what is left; else the FailedScheduling message."""
        try:
            request = pod_requests(spec.template)
        except QuantityError:
            request = Resources()  # validate rejects it; the runtime does not guess
        used = Resources()
        for placed in self._placed.values():
            used += placed
        message = unschedulable(request, used=used, capacity=self.capacity)
        if not message:
            self._placed[spec.name] = request
        return message

    def release(self, name: str) -> None:
        self._placed.pop(name, None)

    # -- pods ---------------------------------------------------------------------------------

    def prepare(self, spec: PodSpec, runtime_dir: Path) -> PodIsolation:
        pod = PodIsolation(self, spec, runtime_dir)
        pod.setup()
        return pod


def _subdirs(path: Path) -> list[Path]:
    """The subdirectories of ``path`` (a cgroup directory also holds its control files)."""
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []


class PodIsolation:
    def __init__(self, isolation: Isolation, spec: PodSpec, runtime_dir: Path) -> None:
        self._isolation = isolation
        self.spec = spec
        self.runtime_dir = runtime_dir
        self.error = ""
        self.volumes: dict[str, HostVolume] = {}
        self.cgroups: dict[str, cgroups.ContainerCgroup] = {}
        self._oom_baseline: dict[str, int] = {}
        pod_spec = spec.template.get("spec") or {}
        self._volume_specs: list[Mapping[str, Any]] = list(pod_spec.get("volumes") or [])
        self._containers = {str(c.get("name")): c for c in pod_spec.get("containers") or []}

    @property
    def _pod_dir(self) -> Path:
        return pod_volumes_dir(self._isolation.state_dir, self.spec.namespace, self.spec.name)

    def setup(self) -> None:
        found = self._isolation.capabilities
        try:
            self.volumes = prepare_volumes(
                self._volume_specs,
                config=self.spec.config,
                state_dir=self._isolation.state_dir,
                namespace=self.spec.namespace,
                pod=self.spec.name,
                can_mount=found.mount_namespace,
            )
            for name, group in self._groups().items():
                self.cgroups[name] = group
                group.create(container_limits(self._containers[name]))
        except VolumeError as exc:
            self.error = str(exc)
        except (OSError, QuantityError, ReconcilerError) as exc:
            self.error = f"failed to prepare the pod's volumes and cgroups: {exc}"
        if self.error:
            log.warning("pod_isolation_failed", pod=self.spec.name, error=self.error)
            self.teardown()

    def _groups(self) -> dict[str, cgroups.ContainerCgroup]:
        """A cgroup per container that has limits or a cpu request (none without cgroups)."""
        hierarchy = self._isolation.capabilities.cgroups
        out: dict[str, cgroups.ContainerCgroup] = {}
        if hierarchy is None:
            return out
        state_dir = self._isolation.state_dir
        for name, container in self._containers.items():
            limits = container_limits(container)
            if limits.any or limits.cpu_request_millis:
                leaves = hierarchy.leaves(state_dir, self.spec.namespace, self.spec.name, name)
                out[name] = cgroups.ContainerCgroup(hierarchy, leaves, hierarchy.top(state_dir))
        return out

    def attach(self) -> None:
        """Find the volumes and cgroups ``setup`` made (for ``Isolation.adopt``)."""
        try:
            self.volumes = existing_volumes(
                self._volume_specs,
                state_dir=self._isolation.state_dir,
                namespace=self.spec.namespace,
                pod=self.spec.name,
            )
            self.cgroups = self._groups()
        except (QuantityError, ReconcilerError) as exc:
            self.error = f"failed to find the pod's volumes and cgroups: {exc}"
        # counted from the start of each container's current instance (recorded by
        # ``started``), so an OOM kill while no daemon ran is reported; the current count for
        # records without it (an OOM kill before that was reported by the previous daemon)
        self._oom_baseline = {}
        for name, group in self.cgroups.items():
            try:
                self._oom_baseline[name] = int(self._baseline_file(name).read_text())
            except (OSError, ValueError):
                self._oom_baseline[name] = group.oom_kills()

    def env(self, container: str) -> dict[str, str]:
        """Where no mount namespace exists, each mounted volume's host path, by name."""
        if self._isolation.capabilities.mount_namespace:
            return {}
        spec = self._containers.get(container) or {}
        out = {}
        for mount in spec.get("volumeMounts") or []:
            volume = self.volumes.get(str(mount.get("name", "")))
            if volume is not None:
                out[caps.volume_env_name(volume.name)] = os.fspath(volume.path)
        return out

    def exists_inside(self, container: str, path: str, *, executable: bool = False) -> bool:
        """Does ``path`` exist in the container's view because one of its volumes is mounted
        there (a script from a ConfigMap as the command, a workingDir in a volume)? The host
        does not see it, so the runtime's checks ask here before failing."""
        if not path.startswith("/") or not self._isolation.capabilities.mount_namespace:
            return False
        try:
            mounts = container_mounts(self._containers.get(container) or {}, self.volumes)
        except MountPathError:
            return False
        for mount in sorted(mounts, key=lambda m: -len(m.target)):
            if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                inside = Path(mount.source, path[len(mount.target) :].lstrip("/"))
                if executable:
                    return inside.is_file() and os.access(inside, os.X_OK)
                return inside.exists()
        return False

    def enter_command(self, container: str, pid: int, *, cwd: Path) -> tuple[str, ...]:
        """The prefix that runs a command (an exec probe, preStop) in the container's mount
        namespace and working directory; empty when the container has no mounts."""
        spec = self._containers.get(container) or {}
        if not self._isolation.capabilities.mount_namespace or not spec.get("volumeMounts"):
            return ()
        namespace = f"/proc/{pid}/ns/mnt"
        nsenter = shutil.which("nsenter")
        if nsenter:
            # (nsenter's --wd opens the directory before entering: a mountPath is not there)
            chdir = 'cd "$0" && exec "$@"'
            return (nsenter, f"--mount={namespace}", "--", SHELL, "-c", chdir, os.fspath(cwd))
        return (sys.executable, "-I", "-S", "-c", SETNS_AND_EXEC, namespace, os.fspath(cwd))

    def command(self, container: str, argv: list[str], *, cwd: Path) -> list[str]:
        """``argv``, behind the exec wrapper when the container has mounts or a cgroup."""
        spec = self._containers.get(container) or {}
        mounts = []
        if self._isolation.capabilities.mount_namespace:
            try:
                mounts = container_mounts(spec, self.volumes)
            except MountPathError as exc:  # validate rejects it first; never mount elsewhere
                raise OSError(22, str(exc)) from None
        group = self.cgroups.get(container)
        if not mounts and group is None:
            return argv
        procs = [os.fspath(leaf / "cgroup.procs") for leaf in group.leaves] if group else []
        if not mounts and os.access(SHELL, os.X_OK):
            # limits only: a shell joins the cgroups and execs, in a millisecond instead of an
            # interpreter's start
            error = os.fspath(self._error_file(container))
            return [SHELL, "-c", JOIN_CGROUPS, "join", error, *procs, "--", *argv]
        stage = make_private_dir(container_file(self.runtime_dir, container, ".mnt"))
        spec_file = container_file(self.runtime_dir, container, ".isolation.json")
        write_private_json(
            spec_file,
            {
                "cgroups": procs,
                "mounts": [
                    {
                        "source": m.source,
                        "target": m.target,
                        "read_only": m.read_only,
                        "is_file": m.is_file,
                    }
                    for m in mounts
                ],
                "stage": os.fspath(stage),
                "cwd": os.fspath(cwd),
                "error_file": os.fspath(self._error_file(container)),
            },
        )
        return [sys.executable, *WRAPPER, os.fspath(spec_file), "--", *argv]

    def _error_file(self, container: str) -> Path:
        return container_file(self.runtime_dir, container, ".start-error")

    def _baseline_file(self, container: str) -> Path:
        return container_file(self.runtime_dir, container, ".oom-baseline")

    def started(self, container: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._error_file(container).unlink()
        group = self.cgroups.get(container)
        self._oom_baseline[container] = group.oom_kills() if group else 0
        if group is not None:  # for a successor that adopts this instance
            with contextlib.suppress(OSError):
                self._baseline_file(container).write_text(str(self._oom_baseline[container]))

    def exited(self, container: str) -> tuple[str, str] | None:
        """(reason, message) that overrides Completed/Error: StartError, or OOMKilled."""
        group = self.cgroups.get(container)
        if group is not None:
            for pid in group.pids():  # what escaped the process group goes with it too
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, 9)
        try:
            message = self._error_file(container).read_text()
        except OSError:
            message = ""
        if message:
            return "StartError", message
        if group is not None and group.oom_kills() > self._oom_baseline.get(container, 0):
            return "OOMKilled", ""
        return None

    def update_config(self, config: PodConfig) -> list[str]:
        return update_config_volumes(self._volume_specs, self.volumes, config)

    async def close(self) -> None:
        """``teardown`` off the event loop when there is anything to undo (killing what is left
        in a cgroup may wait); inline for the common pod without volumes or limits."""
        if self.cgroups or self.volumes:
            await asyncio.to_thread(self.teardown)
        else:
            self.teardown()

    def teardown(self) -> None:
        """Everything of the pod's but a claim's directory and a hostPath; never raises."""
        for group in self.cgroups.values():
            try:
                group.remove()
            except OSError as exc:
                log.warning("cgroup_not_removed", pod=self.spec.name, error=str(exc))
        remove_volumes(self.volumes.values(), pod_dir=self._pod_dir)


__all__ = ["Isolation", "PodIsolation"]
