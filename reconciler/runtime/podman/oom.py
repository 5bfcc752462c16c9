"""Know that the kernel OOM-killed a container, where podman itself does not notice.

On cgroup v2 conmon watches ``memory.events`` and ``podman inspect`` says ``OOMKilled: true``.
On a cgroup v1 hybrid host with runc and the cgroupfs manager (Debian 12 in a container), it
does not: a container killed at its ``--memory`` limit shows exit code 137 and
``OOMKilled: false``, and its cgroup is gone a few milliseconds after the death, so nothing can
be read afterwards (conmon does notice, and writes its ``oom`` marker into its own working
directory instead of the container's, which is why podman calls run in the state directory's
``podman/`` folder). The kubelet would say ``OOMKilled``; so do we, from the kernel's own
notification: once a container runs, an ``eventfd`` is registered on its memory cgroup's
``memory.oom_control`` (the v1 interface, ``cgroup.event_control``). The kernel signals it on
an OOM in that cgroup (and when the cgroup is removed); reading ``oom_kill`` then tells which.
It costs two file descriptors per running container and no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

MEMORY_V1 = Path("/sys/fs/cgroup/memory")


def watch_oom(spec: object) -> bool:
    """Worth watching: a v1 host (v2 reports OOM kills itself) and a memory limit to hit.

    >>> watch_oom({"resources": {}})
    False
    """
    if not isinstance(spec, dict) or not MEMORY_V1.is_dir():
        return False
    return ((spec.get("resources") or {}).get("limits") or {}).get("memory") is not None


def memory_cgroup(pid: int) -> Path | None:
    """The v1 memory cgroup directory of ``pid``, or None (v2, or the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = MEMORY_V1 / path.lstrip("/")
            return folder if (folder / "memory.oom_control").exists() else None
    return None


def oom_kills(folder: Path) -> int:
    """``oom_kill`` of ``memory.oom_control`` (0 when unreadable)."""
    try:
        text = (folder / "memory.oom_control").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


class OomWatch:
    """Watches one container instance's v1 memory cgroup; ``killed`` once the kernel OOM-killed
    in it. ``close()`` releases the descriptors (the death of the container does not)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.killed = False
        self._loop = asyncio.get_running_loop()
        self._control = os.open(folder / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        self._eventfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            (folder / "cgroup.event_control").write_text(f"{self._eventfd} {self._control}")
        except OSError:
            self.close()
            raise
        self._loop.add_reader(self._eventfd, self._on_event)
        self._check()

    @classmethod
    def of(cls, pid: int) -> OomWatch | None:
        folder = memory_cgroup(pid)
        if folder is None:
            return None
        try:
            return cls(folder)
        except OSError:
            return None

    def _check(self) -> None:
        if oom_kills(self.folder) > 0:
            self.killed = True

    def _on_event(self) -> None:
        with contextlib.suppress(OSError):
            os.eventfd_read(self._eventfd)
        self._check()

    def close(self) -> None:
        if self._eventfd < 0:
            return
        self._check()  # the cgroup may still be there: the last word before it goes
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._eventfd)
        for fd in (self._eventfd, self._control):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._eventfd = self._control = -1


__all__ = ["OomWatch", "memory_cgroup", "oom_kills", "watch_oom"]
