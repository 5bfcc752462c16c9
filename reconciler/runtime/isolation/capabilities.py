"""What this host lets the process runtime enforce, detected once at daemon start.

Two questions: can the daemon create cgroups with the memory and cpu controllers (v1 or v2),
and can it unshare a mount namespace (root, ``CAP_SYS_ADMIN``)? The answer is logged, saved as
``isolation.json`` in the state directory (``describe`` reads it while the daemon is
stopped) and turned into the warnings ``validate`` and ``describe`` print next to every field
the host cannot honour, so a limit is never silently ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.runtime.isolation import cgroups
from reconciler.runtime.isolation import syscalls as sc
from reconciler.runtime.layout import write_private_json


@dataclass(frozen=True, slots=True)
class Capabilities:
    cgroups: cgroups.Hierarchy | None
    cgroup_problem: str = ""
    mount_namespace: bool = False
    mount_problem: str = ""

    @property
    def cgroup_version(self) -> str:
        return str(self.cgroups.version) if self.cgroups else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "cgroups": self.cgroup_version,
            "cgroup_problem": self.cgroup_problem,
            "mount_namespace": self.mount_namespace,
            "mount_problem": self.mount_problem,
        }


def can_unshare_mounts() -> tuple[bool, str]:
    """Try ``unshare(CLONE_NEWNS)`` in a forked child (the caller's namespace is untouched)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        code = 0
        try:
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount("none", "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
        except OSError as exc:
            os.write(write_fd, str(exc).encode()[:500])
            code = 1
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as handle:
        problem = handle.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return True, ""
    hint = "" if os.geteuid() == 0 else "; run the daemon as root"
    return False, f"cannot create a mount namespace ({problem or 'unshare failed'}{hint})"


def detect() -> Capabilities:
    hierarchy, cgroup_problem = cgroups.detect()
    mount_ok, mount_problem = can_unshare_mounts()
    return Capabilities(hierarchy, cgroup_problem, mount_ok, mount_problem)


def save(state_dir: Path, capabilities: Capabilities) -> None:
    write_private_json(state_dir / "isolation.json", capabilities.as_dict())


def saved(state_dir: Path) -> Mapping[str, Any] | None:
    """What the last daemon of ``state_dir`` found, or None if none ever ran."""
    try:
        value = json.loads((state_dir / "isolation.json").read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def volume_env_name(volume: str) -> str:
    """The variable carrying a volume's host path where it cannot be mounted.

    >>> volume_env_name("app-config")
    'VOLUME_APP_CONFIG'
    """
    return "VOLUME_" + volume.upper().replace("-", "_").replace(".", "_")


def limits_warning(problem: str) -> str:
    return f"resources.limits are not enforced on this host: {problem}"


def volumes_warning(problem: str, volume: str) -> str:
    return (
        f"volume {volume!r} cannot be mounted at its mountPath on this host: {problem}; "
        f"the container finds its host path in ${volume_env_name(volume)} instead"
    )


def warnings_for(template: Mapping[str, Any], found: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, warning) for every part of a pod template this host cannot honour."""
    spec = template.get("spec") or {}
    out = []
    if not found.get("cgroups"):
        for index, container in enumerate(spec.get("containers") or []):
            if (container.get("resources") or {}).get("limits") or {}:
                problem = str(found.get("cgroup_problem") or "no usable cgroups")
                out.append((f"containers[{index}].resources.limits", limits_warning(problem)))
    if not found.get("mount_namespace"):
        problem = str(found.get("mount_problem") or "no mount namespace")
        for index, container in enumerate(spec.get("containers") or []):
            for mount_index, mount in enumerate(container.get("volumeMounts") or []):
                field = f"containers[{index}].volumeMounts[{mount_index}]"
                out.append((field, volumes_warning(problem, str(mount.get("name", "")))))
    return out


__all__ = [
    "Capabilities",
    "can_unshare_mounts",
    "detect",
    "limits_warning",
    "save",
    "saved",
    "volume_env_name",
    "volumes_warning",
    "warnings_for",
]
