"""The daemon's side of a container's shim: start one, find one again, wait for it, signal it.

A ``ShimHandle`` names one live shim by a pidfd, opened and then checked against the shim's
record (pid, start time from ``/proc``, boot id), so every signal and every wait refers to that
very process even if its pid is later reused. The daemon waits for the shim's exit by watching
the pidfd on its event loop; the container's exit status is then in ``<container>.exit.json``
(``ExitRecord``). Nothing here holds the shim to the daemon: both can die at any instant and
the other carries on.

Starting one (``spawn_shim``): the daemon writes the launch file, takes the ``flock`` on
``<container>.lock`` and starts the shim with that descriptor, so from the very first instant a
shim exists its lock is held; then it waits (asynchronously) for ``<container>.shim.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.runtime import shim
from reconciler.runtime.layout import container_file, read_json, write_private_json
from reconciler.runtime.records import boot_id, process_alive

SHIM_PROGRAM = Path(shim.__file__)
SHIM_START_TIMEOUT = 10.0  # a shim's record appears within ms; this is for a machine under load


@dataclass(frozen=True, slots=True)
class ExitRecord:
    exit_code: int
    signal: int | None
    reason: str  # Completed, Error, StartError, ContainerStatusUnknown
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    @classmethod
    def load(cls, path: Path) -> ExitRecord | None:
        data = read_json(path)
        if not isinstance(data, dict):
            return None
        try:
            signal_number = data.get("signal")
            return cls(
                exit_code=int(data["exit_code"]),
                signal=int(signal_number) if signal_number is not None else None,
                reason=str(data.get("reason") or "Error"),
                message=str(data.get("message") or ""),
                started_at=float(data["started_at"]) if data.get("started_at") else None,
                finished_at=float(data["finished_at"]) if data.get("finished_at") else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class ShimRecord:
    """``<container>.shim.json``: who the shim and its container are."""

    shim_pid: int
    shim_start: int
    child_pid: int
    child_start: int
    boot_id: str
    started_at: float

    @classmethod
    def load(cls, path: Path) -> ShimRecord | None:
        data = read_json(path)
        try:
            return cls(
                shim_pid=int(data["shim"]["pid"]),
                shim_start=int(data["shim"]["start_time"]),
                child_pid=int(data["child"]["pid"]),
                child_start=int(data["child"]["start_time"]),
                boot_id=str(data["boot_id"]),
                started_at=float(data["started_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def shim_verified(self) -> bool:
        """The recorded shim is alive: same boot, same pid, same start time."""
        return self.boot_id == boot_id() and process_alive(self.shim_pid, self.shim_start)

    def child_verified(self) -> bool:
        return self.boot_id == boot_id() and process_alive(self.child_pid, self.child_start)


def paths(runtime_dir: Path, container: str) -> dict[str, Path]:
    return {
        key: container_file(runtime_dir, container, suffix)
        for key, suffix in (
            ("launch", shim.LAUNCH),
            ("shim", shim.SHIM),
            ("exit", shim.EXIT),
            ("lock", shim.LOCK),
            ("errors", shim.SHIM_ERRORS),
        )
    }


def lock_held(path: Path) -> bool:
    """Is a shim holding this container's lock (alive, perhaps not yet recorded)?"""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class ShimHandle:
    """One live shim, by pidfd (see the module docstring)."""

    def __init__(self, record: ShimRecord, pidfd: int, popen: subprocess.Popen[bytes] | None):
        self.record = record
        self._pidfd = pidfd
        self._popen = popen
        self._exited: asyncio.Future[None] | None = None

    @classmethod
    def attach(cls, record: ShimRecord) -> ShimHandle | None:
        """The shim ``record`` names, if it is alive and really that process."""
        try:
            pidfd = os.pidfd_open(record.shim_pid)
        except OSError:
            return None
        # checked after opening: the pidfd now pins that process, whatever the pid becomes
        if not record.shim_verified():
            os.close(pidfd)
            return None
        return cls(record, pidfd, None)

    @property
    def pid(self) -> int:
        return self.record.child_pid

    def exited(self) -> asyncio.Future[None]:
        """Resolves once the shim has exited (its exit record is then written, if it could)."""
        if self._exited is None:
            loop = asyncio.get_running_loop()
            self._exited = loop.create_future()
            loop.add_reader(self._pidfd, self._on_exit)
        return self._exited

    def _on_exit(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        if self._popen is not None:
            self._popen.wait()  # ours: reap it (it has exited, this does not block)
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)

    def send(self, number: int) -> None:
        """SIGTERM: graceful stop (with the shim's backstop); shim.KILL: SIGKILL the group."""
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self._pidfd, number)

    def release(self) -> None:
        """Stop watching (the daemon is leaving; the shim carries on)."""
        with contextlib.suppress(ValueError, RuntimeError):
            asyncio.get_running_loop().remove_reader(self._pidfd)
        with contextlib.suppress(OSError):
            os.close(self._pidfd)
        self._pidfd = -1


def shim_environment() -> dict[str, str]:
    """The shim's own environment: nothing of the daemon's (the container's env is in the
    launch file; the shim needs none itself)."""
    return {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}


async def spawn_shim(
    runtime_dir: Path,
    container: str,
    *,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    grace: float,
    max_bytes: int,
    max_files: int,
) -> ShimHandle | ExitRecord:
    """Start the container's instance under a new shim; its handle, or how it failed to start.

    ``argv`` is exactly what runs (``argv[0]`` a path): one value, so a wrapper (a mount
    namespace, a cgroup) composes by prefixing it.
    """
    files = paths(runtime_dir, container)
    for stale in ("shim", "exit"):
        with contextlib.suppress(FileNotFoundError):
            files[stale].unlink()
    launch: dict[str, Any] = {
        "format": shim.FORMAT,
        "argv": list(argv),
        "env": dict(env),
        "cwd": os.fspath(cwd),
        "log": os.fspath(log),
        "grace": grace,
        "max_bytes": max_bytes,
        "max_files": max_files,
    }
    write_private_json(files["launch"], launch)
    lock_fd = os.open(files["lock"], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    errors = os.open(files["errors"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return ExitRecord(
                exit_code=128,
                signal=None,
                reason="StartError",
                message=f"another supervisor still holds {files['lock'].name}",
            )
        popen = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                os.fspath(SHIM_PROGRAM),
                os.fspath(runtime_dir),
                container,
                str(lock_fd),
            ],
            pass_fds=(lock_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=shim_environment(),
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:  # no memory, no processes left: a start error, tried again
        return ExitRecord(exit_code=128, signal=None, reason="StartError", message=str(exc))
    finally:
        os.close(lock_fd)
        os.close(errors)
    pidfd = os.pidfd_open(popen.pid)
    deadline = time.monotonic() + SHIM_START_TIMEOUT
    delay = 0.001
    while True:
        record = ShimRecord.load(files["shim"])
        if record is not None:
            return ShimHandle(record, pidfd, popen)
        if popen.poll() is not None:
            os.close(pidfd)
            return ExitRecord.load(files["exit"]) or _shim_failed(files["errors"])
        if time.monotonic() > deadline:
            os.close(pidfd)
            popen.kill()
            popen.wait()
            return _shim_failed(files["errors"], why="did not start in time")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)


def _shim_failed(errors: Path, *, why: str = "exited") -> ExitRecord:
    try:
        tail = errors.read_text(errors="replace").strip().splitlines()[-1:]
    except OSError:
        tail = []
    detail = f": {tail[0]}" if tail else ""
    return ExitRecord(
        exit_code=128, signal=None, reason="StartError", message=f"supervisor {why}{detail}"
    )


__all__ = ["ExitRecord", "ShimHandle", "ShimRecord", "lock_held", "paths", "spawn_shim"]
