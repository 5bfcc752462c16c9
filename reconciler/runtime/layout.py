"""Where the runtime keeps its files, and the name checks that keep them inside the state dir.

Every path under ``<state_dir>/runtime/`` and ``<state_dir>/logs/`` is built from a namespace,
a pod name and a container name. Those come from manifests, so each is checked against the
Kubernetes name rules (DNS-1123) before it becomes a path component: ``..``, ``/`` or an empty
name can never escape the state directory. Files are created 0600 in 0700 directories because
they hold container environments (which may carry secrets) and container output.

Layout::

    runtime/format.json                            the format of everything below
    runtime/<namespace>/<pod>/pod.json             the pod: spec, ports, containers, owner daemon
    runtime/<namespace>/<pod>/status.json          its last known state (Ready, restarts, ...)
    runtime/<namespace>/<pod>/<container>.launch.json  what its shim runs: argv, env, cwd, log
    runtime/<namespace>/<pod>/<container>.shim.json    the shim and its child: pids, start times
    runtime/<namespace>/<pod>/<container>.exit.json    how the last instance exited
    runtime/<namespace>/<pod>/<container>.lock         held by the live shim (flock)
    runtime/<namespace>/<pod>/<container>.env.json   env and working dir, for ``exec``
    logs/<namespace>/<pod>/<container>.log[.N]       current instance (rotated)
    logs/<namespace>/<pod>/<container>.previous.log[.N]  the instance before the last restart
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(rf"^{_LABEL}$")
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def check_label(value: str, *, what: str) -> str:
    """A DNS-1123 label (namespace, container name): at most 63 of ``[a-z0-9-]``."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ReconcilerError(f"invalid {what} name {value!r}: must be a DNS-1123 label")
    return value


def check_subdomain(value: str, *, what: str) -> str:
    """A DNS-1123 subdomain (pod name): dot-separated labels, at most 253 characters."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ReconcilerError(f"invalid {what} name {value!r}: must be a DNS-1123 subdomain")
    return value


def runtime_root(state_dir: Path) -> Path:
    return state_dir / "runtime"


def logs_root(state_dir: Path) -> Path:
    return state_dir / "logs"


def pod_runtime_dir(state_dir: Path, namespace: str, pod: str) -> Path:
    check_label(namespace, what="namespace")
    check_subdomain(pod, what="pod")
    return runtime_root(state_dir) / namespace / pod


def pod_logs_dir(state_dir: Path, namespace: str, pod: str) -> Path:
    check_label(namespace, what="namespace")
    check_subdomain(pod, what="pod")
    return logs_root(state_dir) / namespace / pod


def container_file(directory: Path, container: str, suffix: str) -> Path:
    check_label(container, what="container")
    return directory / f"{container}{suffix}"


def make_private_dir(path: Path) -> Path:
    """``mkdir -p`` with 0700 for every directory created (``Path.mkdir`` would create the
    parents with the umask's mode)."""
    missing = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    return path


def write_private_json(path: Path, value: Any) -> None:
    """Write JSON atomically (temp file + rename) with mode 0600."""
    make_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable (a half-cleaned record)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
