"""What a daemon leaves for its successor, and how the successor takes it over (or stops it).

Each pod's directory under ``<state>/runtime/<namespace>/<pod>/`` holds ``pod.json`` (the pod
as it was started: owner, labels, template, ports, creation time) and ``status.json`` (its last
known state: Ready, since when, restart counts, terminating and the stop deadline), written by
the daemon whenever they change; each container has its shim's records (``reconciler.runtime.
shim``). A starting daemon reads them all (``survey``):

- a container whose shim verifies (same boot id, pid alive with the recorded start time) is
  *adopted*: same pod name, same process, same restart count, and the last known Ready state
  until its probes say otherwise (a flap to not-Ready would empty the Service endpoints);
- a container whose shim is gone but left an exit record exited while no daemon ran: the pod is
  adopted and the container restarted, as the kubelet does;
- a container whose shim died without a record: its container is stopped (if it verifies) and it
  is restarted, ``ContainerStatusUnknown``;
- a pod whose records cannot be read or verified is not adopted: what of it verifies is
  stopped, a live process that does not verify (a reused pid) is left alone, and it is logged.

``<state>/runtime/format.json`` records the format of all of this. A daemon of the same format
adopts; records of an older format (none at all: format 0, from before pods outlived the
daemon) are stopped by what they record and their pods started anew; a newer format refuses
the start, touching nothing, since an older daemon cannot know what a newer one left.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.log import get_logger
from reconciler.runtime import ContainerState, PodConfig, PodSpec
from reconciler.runtime import shim as shim_records
from reconciler.runtime.container import Pod
from reconciler.runtime.layout import read_json, runtime_root, write_private_json
from reconciler.runtime.records import ProcessRecord, clean_leftovers
from reconciler.runtime.supervisor import ExitRecord, ShimHandle, ShimRecord, lock_held, paths

log = get_logger(component="runtime")

FORMAT = shim_records.FORMAT
FORMAT_FILE = "format.json"
STARTING_SHIM_WAIT = 5.0  # a shim that holds its lock but has not yet written its record

LOST = ExitRecord(
    exit_code=137,
    signal=None,
    reason="ContainerStatusUnknown",
    message="its supervisor died while no daemon ran; the container was stopped",
)


class NewerRecordsError(ReconcilerError):
    """The state directory's runtime records are of a format newer than this build knows."""


@dataclass(slots=True)
class Adopted:
    """A pod rebuilt from its records, with what each container's instance is now."""

    pod: Pod
    instances: dict[str, ShimHandle | ExitRecord | None] = field(default_factory=dict)


# -- writing -----------------------------------------------------------------------------------


def _encode(config: PodConfig) -> dict[str, Any]:
    def part(objects: Mapping[str, Mapping[str, bytes]]) -> dict[str, dict[str, str]]:
        return {
            name: {key: base64.b64encode(value).decode() for key, value in data.items()}
            for name, data in objects.items()
        }

    return {"config_maps": part(config.config_maps), "secrets": part(config.secrets)}


def _decode(data: Any) -> PodConfig:
    def part(objects: Any) -> dict[str, dict[str, bytes]]:
        return {
            str(name): {str(k): base64.b64decode(v) for k, v in values.items()}
            for name, values in (objects or {}).items()
        }

    data = data if isinstance(data, dict) else {}
    return PodConfig(config_maps=part(data.get("config_maps")), secrets=part(data.get("secrets")))


def save_pod(pod: Pod, *, daemon: Mapping[str, Any]) -> None:
    """``pod.json``: enough to rebuild the pod (its spec, ports, creation time)."""
    spec = pod.spec
    write_private_json(
        pod.runtime_dir / "pod.json",
        {
            "format": FORMAT,
            "name": spec.name,
            "namespace": spec.namespace,
            "owner": spec.owner,
            "labels": dict(spec.labels),
            "template": spec.template,
            "base_dir": os.fspath(spec.base_dir),
            "config": _encode(spec.config),
            "created_at": pod.created_at,
            "containers": [c.name for c in pod.containers],
            "ports": pod.ports,
            "daemon": dict(daemon),
        },
    )


def status_snapshot(pod: Pod) -> dict[str, Any]:
    """``status.json``: the pod's last known state (written when it changes)."""
    remaining = pod.stop_deadline - time.monotonic() if pod.terminating else 0.0
    return {
        "format": FORMAT,
        "terminating": pod.terminating,
        "stop_deadline": time.time() + max(remaining, 0.0) if pod.terminating else None,
        "terminating_since": pod.terminating_since,
        "ready": pod.ready,
        "ready_since": pod.ready_since,
        # held by the scheduler (never launched: no volumes, no cgroups, no container yet)
        "unschedulable": pod.unschedulable,
        "schedule_attempts": pod.schedule_attempts,
        "containers": {
            c.name: {
                "state": str(c.state),
                "reason": c.reason,
                "message": c.message,
                "ready": c.ready,
                "started": c.started,
                "restart_count": c.restart_count,
                "instances": c.instances,
                "started_at": c.started_at,
                "last_restart_at": c.last_restart_at,
                "exit_code": c.exit_code,
                "signal": c.signal,
                "last_exit_code": c.last_exit_code,
                "last_reason": c.last_reason,
            }
            for c in pod.containers
        },
    }


class StatusFiles:
    """Each pod's ``status.json``, written only when what it records changes (not the stop
    deadline's drift): a restart's worth of rewrites would cost more than the adoption."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: dict[str, object] = {}  # what the file holds, per pod

    def read_back(self, pod: Pod) -> None:
        """The file says what was just read from it (an adopted pod)."""
        self._saved[pod.spec.name] = {**status_snapshot(pod), "stop_deadline": None}

    def write(self, pod: Pod) -> None:
        snapshot = status_snapshot(pod)
        compared = {**snapshot, "stop_deadline": None}
        if self._saved.get(pod.spec.name) == compared:
            return
        try:
            write_private_json(pod.runtime_dir / "status.json", snapshot)
        except OSError as exc:  # a full disk: the next change tries again
            log.warning("pod_status_not_saved", pod=pod.spec.name, error=str(exc))
            return
        self._saved[pod.spec.name] = compared

    def forget(self, name: str) -> None:
        self._saved.pop(name, None)


# -- the format ----------------------------------------------------------------------------------


def check_format(state_dir: Path) -> int:
    """The format of the records in ``state_dir`` (0: before formats; FORMAT: adoptable).

    Raises NewerRecordsError for a newer format: nothing is touched.
    """
    root = runtime_root(state_dir)
    if not root.is_dir():
        return FORMAT
    data = read_json(root / FORMAT_FILE)
    if isinstance(data, dict) and isinstance(data.get("format"), int):
        found = int(data["format"])
    else:
        found = 0 if any(root.glob("*/*/pod.json")) or any(root.glob("*/*/*.json")) else FORMAT
    if found > FORMAT:
        raise NewerRecordsError(
            f"error: the pods in {state_dir} were started by a newer reconciler (runtime "
            f"records format {found}; this one knows up to {FORMAT}). Run that version, or "
            "its 'reconciler down', instead; nothing was changed"
        )
    return found


def write_format(state_dir: Path) -> None:
    write_private_json(runtime_root(state_dir) / FORMAT_FILE, {"format": FORMAT})


# -- reading and verifying -----------------------------------------------------------------------


def _container_instance(runtime_dir: Path, name: str) -> ShimHandle | ExitRecord | None:
    """What the container's records say of its current instance (see the module docstring)."""
    files = paths(runtime_dir, name)
    record = ShimRecord.load(files["shim"])
    if record is None and lock_held(files["lock"]):
        deadline = time.monotonic() + STARTING_SHIM_WAIT
        while record is None and time.monotonic() < deadline and lock_held(files["lock"]):
            time.sleep(0.005)
            record = ShimRecord.load(files["shim"])
    if record is None:
        return ExitRecord.load(files["exit"])  # a start error, or never started (None)
    handle = ShimHandle.attach(record)
    if handle is not None:
        return handle
    exited = ExitRecord.load(files["exit"])
    if exited is not None:
        return exited
    kill_container(record)
    log.warning("container_lost", runtime_dir=os.fspath(runtime_dir), container=name)
    return LOST


def kill_container(record: ShimRecord) -> None:
    """SIGKILL the group of a container whose shim is gone, if it is really that process."""
    if record.boot_id and record.child_pid > 1:
        ProcessRecord(
            pid=record.child_pid,
            pgid=record.child_pid,
            start_time=record.child_start,
            boot_id=record.boot_id,
        ).kill()


def _restore(pod: Pod, status: Any) -> None:
    if not isinstance(status, dict):
        return
    pod.ready = bool(status.get("ready"))
    pod.ready_since = status.get("ready_since")
    pod.unschedulable = str(status.get("unschedulable") or "")
    pod.schedule_attempts = int(status.get("schedule_attempts") or 0)
    if status.get("terminating"):
        pod.terminating = True
        deadline = status.get("stop_deadline") or time.time()
        pod.stop_deadline = time.monotonic() + max(float(deadline) - time.time(), 0.0)
        since = status.get("terminating_since")
        pod.terminating_since = float(since) if since else float(deadline) - pod.grace_period
    saved = status.get("containers") or {}
    for container in pod.containers:
        data = saved.get(container.name)
        if not isinstance(data, dict):
            continue
        container.restart_count = int(data.get("restart_count") or 0)
        container.instances = int(data.get("instances") or 0)
        container.ready = bool(data.get("ready"))
        container.started = bool(data.get("started"))
        container.started_at = data.get("started_at")
        container.last_restart_at = data.get("last_restart_at")
        container.last_exit_code = data.get("last_exit_code")
        container.last_reason = str(data.get("last_reason") or "")
        container.reason = str(data.get("reason") or "")
        container.message = str(data.get("message") or "")


def load_pod(runtime_dir: Path, logs_dir: Path) -> Adopted:
    """Rebuild one pod from its records; ReconcilerError when they cannot be trusted."""
    data = read_json(runtime_dir / "pod.json")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReconcilerError("its pod.json is missing, unreadable or of another format")
    try:
        spec = PodSpec(
            name=str(data["name"]),
            namespace=str(data["namespace"]),
            owner=str(data["owner"]),
            labels={str(k): str(v) for k, v in data["labels"].items()},
            template=data["template"],
            base_dir=Path(data["base_dir"]),
            config=_decode(data.get("config")),
        )
        pod = Pod.create(spec, runtime_dir=runtime_dir, logs_dir=logs_dir)
        pod.created_at = float(data["created_at"])
        pod.ports = {str(k): int(v) for k, v in data["ports"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReconcilerError(f"its pod.json does not describe a pod ({exc!r})") from None
    if (spec.namespace, spec.name) != (runtime_dir.parent.name, runtime_dir.name):
        raise ReconcilerError("its pod.json names another pod")
    _restore(pod, read_json(runtime_dir / "status.json"))
    adopted = Adopted(pod)
    for container in pod.containers:
        instance = _container_instance(runtime_dir, container.name)
        adopted.instances[container.name] = instance
        if isinstance(instance, ShimHandle):
            container.state = ContainerState.RUNNING
            container.started_at = container.started_at or instance.record.started_at
            container.instances = max(container.instances, 1)
        else:
            container.ready = False
    pod.update_ready()  # keeps ready_since: it was Ready before and still is
    return adopted


def stop_unverified(runtime_dir: Path) -> list[int]:
    """SIGKILL what of a pod's records verifies; returns the pids signalled. Processes that do
    not verify (their pid reused by another process) are left alone."""
    killed: list[int] = []
    for path in sorted(runtime_dir.glob(f"*{shim_records.SHIM}")):
        record = ShimRecord.load(path)
        if record is None:
            continue
        handle = ShimHandle.attach(record)
        if handle is not None:
            handle.send(shim_records.KILL)
            handle.release()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(record.shim_pid, signal.SIGKILL)
            killed.append(record.child_pid)
        elif record.child_verified():
            kill_container(record)
            killed.append(record.child_pid)
    for path in sorted(runtime_dir.glob("*.proc.json")):  # format 0
        legacy = ProcessRecord.load(path)
        if legacy is not None:
            killed.extend(legacy.kill())
    return killed


def survey(state_dir: Path) -> list[Adopted]:
    """Every pod the records show, adopted or (if it cannot be) stopped and removed."""
    root = runtime_root(state_dir)
    found = check_format(state_dir)
    if found != FORMAT:
        killed = clean_leftovers(state_dir)
        for pod_dir in sorted(root.glob("*/*")) if root.is_dir() else []:
            killed.extend(stop_unverified(pod_dir))
        log.warning(
            "runtime_records_replaced",
            found_format=found,
            format=FORMAT,
            stopped=killed,
            why="pods of an older reconciler are not adopted: stopped, started anew",
        )
        shutil.rmtree(root, ignore_errors=True)
        write_format(state_dir)
        return []
    write_format(state_dir)
    adopted: list[Adopted] = []
    for pod_dir in sorted(root.glob("*/*")):
        if not pod_dir.is_dir():
            continue
        logs_dir = state_dir / "logs" / pod_dir.parent.name / pod_dir.name
        try:
            adopted.append(load_pod(pod_dir, logs_dir))
        except ReconcilerError as exc:
            killed = stop_unverified(pod_dir)
            log.warning("pod_not_adopted", pod=pod_dir.name, why=str(exc), stopped=killed)
            shutil.rmtree(pod_dir, ignore_errors=True)
            shutil.rmtree(logs_dir, ignore_errors=True)
    return adopted


__all__ = [
    "FORMAT",
    "Adopted",
    "NewerRecordsError",
    "StatusFiles",
    "check_format",
    "kill_container",
    "save_pod",
    "status_snapshot",
    "stop_unverified",
    "survey",
    "write_format",
]
