"""Plan a container's mounts on a root filesystem it shares with the host.

There is no container image here: the container sees the host's ``/``. A ``mountPath`` such as
``/etc/config`` may not exist on the host, and nothing may be created on the host's ``/`` to
mount over. So, inside the container's private mount namespace, the nearest existing parent
(``/etc``) is *shadowed*: a fresh tmpfs takes its place, every original entry is bind-mounted
back into it (recursively, so its submounts come along; symlinks are recreated), and the missing
directories are created in the tmpfs. The container sees ``/etc`` as before plus ``/etc/config``;
the host sees nothing at all. When the parent is ``/`` itself, the shadow becomes the
namespace's new root (``pivot_root``), so ``exec`` (``setns``) lands in the same view. The one
difference the container can notice: a *new* entry it creates directly in a shadowed directory
lives in the tmpfs (existing entries are the host's, bind-mounted, and writes to them reach it).

The plan is pure (the filesystem is asked through ``exists``), so it is tested without mounting:

>>> exists = {"/", "/etc", "/etc/ssl", "/srv", "/srv/data"}.__contains__
>>> for step in plan_mounts([Mount("/v/a", "/etc/config/app"), Mount("/v/b", "/srv/data")],
...                         exists=exists):
...     print(step)
Bind(source='/v/b', target='/srv/data', read_only=False, is_file=False)
Shadow(path='/etc')
MakePath(path='/etc/config/app', is_file=False)
Bind(source='/v/a', target='/etc/config/app', read_only=False, is_file=False)
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mount:
    """Bind ``source`` (a host path) at ``target`` inside the container."""

    source: str
    target: str
    read_only: bool = False
    is_file: bool = False


@dataclass(frozen=True, slots=True)
class Shadow:
    """Replace directory ``path`` by a tmpfs holding bind mounts of its original entries."""

    path: str


@dataclass(frozen=True, slots=True)
class MakePath:
    """Create ``path`` (and missing parents) inside a shadowed directory."""

    path: str
    is_file: bool = False


@dataclass(frozen=True, slots=True)
class Bind:
    source: str
    target: str
    read_only: bool = False
    is_file: bool = False


Step = Shadow | MakePath | Bind


class MountPathError(ValueError):
    """A mountPath that is not an absolute, normalized path (``..``, relative, empty)."""


def check_mount_path(path: str) -> str:
    """The mountPath, normalized; MountPathError for one Kubernetes would reject too.

    >>> check_mount_path("/etc/config/"), check_mount_path("//data")
    ('/etc/config', '/data')
    """
    if not path.startswith("/"):
        raise MountPathError(f"mountPath {path!r} must be an absolute path")
    if ".." in path.split("/"):
        raise MountPathError(f"mountPath {path!r} must not contain '..'")
    if "\0" in path or ":" in path:
        raise MountPathError(f"mountPath {path!r} must not contain ':'")
    normalized = posixpath.normpath(path)
    return "/" + normalized.lstrip("/")


def _depth(path: str) -> int:
    return 0 if path == "/" else path.count("/")


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def plan_mounts(mounts: Sequence[Mount], *, exists: Callable[[str], bool]) -> list[Step]:
    """The steps that put every mount at its target, parents before children.

    ``exists`` answers for the host's view; the plan tracks what its own steps change: a bound
    target shows its source's entries (asked as ``source + rest``), a shadowed directory keeps
    its entries and accepts new ones.
    """
    bound: list[tuple[str, str]] = []  # (target, source), shallowest first
    shadowed: set[str] = set()
    created: set[str] = set()

    def where(path: str) -> str:
        """The host path ``path`` shows after the binds so far."""
        for target, source in reversed(bound):
            if _under(path, target):
                rest = path[len(target) :].lstrip("/")
                return posixpath.join(source, rest) if rest else source
        return path

    def present(path: str) -> bool:
        return path in created or exists(where(path))

    def writable(path: str) -> bool:
        """Inside a tmpfs of ours: created there, or the shadowed directory itself."""
        return path in created or path in shadowed

    steps: list[Step] = []
    for mount in sorted(mounts, key=lambda m: _depth(m.target)):
        target = mount.target
        if not present(target):
            parent = posixpath.dirname(target)
            while not present(parent):
                parent = posixpath.dirname(parent)
            if not writable(parent):
                steps.append(Shadow(parent))
                shadowed.add(parent)
            steps.append(MakePath(target, is_file=mount.is_file))
            here = target
            while here != parent:
                created.add(here)
                here = posixpath.dirname(here)
        steps.append(Bind(mount.source, target, read_only=mount.read_only, is_file=mount.is_file))
        bound.append((target, mount.source))
        created = {p for p in created if not _under(p, target)}
    return steps


__all__ = [
    "Bind",
    "MakePath",
    "Mount",
    "MountPathError",
    "Shadow",
    "Step",
    "check_mount_path",
    "plan_mounts",
]
