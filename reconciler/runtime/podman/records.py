"""Which podman containers a pod's containers are, for the CLI (``logs``, ``exec``).

The daemon writes ``<state>/podman/pods/<namespace>/<pod>.json`` (0600) whenever a container
instance starts: the podman pod's name and, per container, the current instance's ID and the
previous one's (kept until the next restart, for ``logs --previous``). The CLI reads it without
talking to the daemon, and runs ``podman logs``/``podman exec`` with the state directory's
podman environment. The file is removed with the pod.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import NotFoundError, ReconcilerError
from reconciler.runtime.layout import check_label, check_subdomain, read_json, write_private_json
from reconciler.runtime.podman.host import podman_binary, podman_dir, podman_env


def record_path(state_dir: Path, namespace: str, pod: str) -> Path:
    check_label(namespace, what="namespace")
    check_subdomain(pod, what="pod")
    return podman_dir(state_dir) / "pods" / namespace / f"{pod}.json"


def write_record(
    state_dir: Path,
    namespace: str,
    pod: str,
    *,
    podman_pod: str,
    containers: dict[str, dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """``extra``: what a successor daemon needs to adopt the pod (``adopt.pod_record``)."""
    write_private_json(
        record_path(state_dir, namespace, pod),
        {**(extra or {}), "pod": podman_pod, "containers": containers},
    )


def remove_record(state_dir: Path, namespace: str, pod: str) -> None:
    record_path(state_dir, namespace, pod).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class PodmanTarget:
    """What ``podman logs``/``podman exec`` needs for one container of a pod."""

    binary: str
    env: dict[str, str]
    container_id: str

    def argv(self, verb: str, *args: str) -> list[str]:
        return [self.binary, verb, *args]


def podman_target(
    state_dir: Path,
    namespace: str,
    pod: str,
    container: str,
    *,
    previous: bool = False,
    logs: bool = False,
) -> PodmanTarget | None:
    """The podman container behind a pod's container, or None when the pod is not podman's.

    A podman pod whose container has not started yet is kubectl's error for ``logs``
    (``container "web" in pod "p" is waiting to start``) or ``exec`` (``container not found``).
    """
    try:
        record = read_json(record_path(state_dir, namespace, pod))
    except ReconcilerError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("containers"), dict):
        return None
    ids = record["containers"].get(container) or {}
    container_id = str(ids.get("previous" if previous else "id") or "")
    if not container_id:
        if previous:
            raise NotFoundError(
                f'previous terminated container "{container}" in pod "{pod}" not found'
            )
        if logs:
            raise ReconcilerError(
                f'Error from server (BadRequest): container "{container}" in pod "{pod}" '
                "is waiting to start"
            )
        raise ReconcilerError(
            f'error: unable to upgrade connection: container not found ("{container}")'
        )
    return PodmanTarget(podman_binary(), podman_env(state_dir), container_id)


def run_podman(target: PodmanTarget, verb: str, *args: str) -> int:
    """Run ``podman VERB ARGS`` in the foreground (its output is the user's); its exit code."""
    import subprocess

    completed = subprocess.run(target.argv(verb, *args), env=target.env, check=False)
    return completed.returncode


def logs_args(target: PodmanTarget, *, follow: bool, tail: int | None) -> list[str]:
    """``podman logs`` arguments as ``kubectl logs`` means them.

    >>> logs_args(PodmanTarget("podman", {}, "abc"), follow=True, tail=5)
    ['-f', '--tail', '5', 'abc']
    """
    out = ["-f"] if follow else []
    if tail is not None:
        out += ["--tail", str(tail)]
    return [*out, target.container_id]


def exec_args(target: PodmanTarget, argv: list[str], *, tty: bool, stdin: bool) -> list[str]:
    flags = (["-i"] if stdin or tty else []) + (["-t"] if tty and os.isatty(0) else [])
    return [*flags, target.container_id, *argv]


__all__ = [
    "PodmanTarget",
    "exec_args",
    "logs_args",
    "podman_target",
    "record_path",
    "remove_record",
    "run_podman",
    "write_record",
]
