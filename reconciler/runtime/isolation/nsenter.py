"""``exec`` into a container's view of the filesystem: join its mount namespace (``setns``).

The container's main process carries the namespace (``/proc/<pid>/ns/mnt``); the runtime's
process record gives its pid and start time, so a reused pid is never entered. A process must
be single-threaded to change its mount namespace, which the CLI is.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.runtime.isolation import syscalls as sc
from reconciler.runtime.layout import read_json
from reconciler.runtime.records import process_alive


def join_mount_namespace(record_path: Path) -> bool:
    """Enter the mount namespace of the recorded process if it has its own; True if entered."""
    record = read_json(record_path)
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return False
    pid = int(record["pid"])
    if not process_alive(pid, record.get("start_time")):
        return False
    target = f"/proc/{pid}/ns/mnt"
    try:
        if os.stat(target).st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            return False  # no mount namespace of its own (nothing mounted)
        fd = os.open(target, os.O_RDONLY)
    except OSError:
        return False
    try:
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
