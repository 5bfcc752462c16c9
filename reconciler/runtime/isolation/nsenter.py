"""``exec`` into a container's view of the filesystem: join its mount namespace (``setns``).

The container's main process carries the namespace (``/proc/<pid>/ns/mnt``); its shim's record
(``<container>.shim.json``) gives its pid, start time and boot id, so a reused pid is never
entered. A process must be single-threaded to change its mount namespace, which the CLI is.
"""

from __future__ import annotations

import os

from reconciler.errors import ReconcilerError
from reconciler.runtime.isolation import syscalls as sc
from reconciler.runtime.records import boot_id, process_alive


def join_mount_namespace(pid: int, *, start_time: int, boot: str) -> bool:
    """Enter the mount namespace of process ``pid`` if it has its own; True if entered.

    ``start_time`` and ``boot`` are what the container's record says of it: the namespace is
    opened first and the process verified afterwards, so a pid reused in between is never
    entered (the open descriptor pins the namespace it named)."""
    target = f"/proc/{pid}/ns/mnt"
    try:
        if os.stat(target).st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            return False  # no mount namespace of its own (nothing mounted)
        fd = os.open(target, os.O_RDONLY)
    except OSError:
        return False
    try:
        if boot != boot_id() or not process_alive(pid, start_time):
            return False  # not the container's process any more
        sc.setns(fd, sc.CLONE_NEWNS)
    except OSError as exc:
        raise ReconcilerError(
            f"error: cannot enter the container's mount namespace ({exc.strerror}): "
            "run exec as the user the daemon runs as (root)"
        ) from None
    finally:
        os.close(fd)
    return True


__all__ = ["join_mount_namespace"]
