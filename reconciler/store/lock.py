"""One daemon per state directory: an exclusive ``flock`` on ``daemon.lock``.

``flock`` is released by the kernel when the holder dies, so a crashed daemon never leaves a
stale lock behind; the pid written into the file is only for the message a second daemon gets
and for ``reconciler`` commands that want to know whether a daemon is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from reconciler.errors import StateDirError

LOCK_NAME = "daemon.lock"


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


def acquire(state_dir: Path) -> int:
    """Take the lock and write our pid into it; returns the fd that holds it."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateDirError(f"error: cannot create {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        who = f"pid {pid}" if pid is not None else "pid unknown"
        raise StateDirError(
            f"error: another reconciler daemon ({who}) holds state directory {state_dir}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)  # closing the only descriptor drops the flock


def holder(state_dir: Path) -> int | None:
    """The pid of the live lock holder, else None."""
    try:
        fd = os.open(state_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
