"""The per-container supervisor (a "shim", like conmon or containerd-shim): it outlives the daemon.

The daemon starts one shim per container instance, detached in its own session::

    python -I -S reconciler/runtime/shim.py RUNTIME_DIR CONTAINER LOCK_FD

It reads ``<container>.launch.json`` (the argv that runs the container, its env, working dir,
log file, grace period), spawns that argv in its own session and process group with stdout and
stderr on a pipe, and from then on owns three things the daemon used to:

- the output: the pipe goes to ``<container>.log`` with size rotation (``LogWriter``), the files
  ``reconciler logs`` reads;
- signals: SIGTERM to the shim is SIGTERM to the container's group, plus a backstop SIGKILL once
  the launch's grace period has passed (a stop begun by a daemon that then died still ends);
  SIGUSR1 is SIGKILL to the group; SIGINT, SIGQUIT, SIGUSR2 are forwarded as they are;
- the exit status: once the main process exits, what is left of its group is killed, the pipe
  drained, and ``<container>.exit.json`` written (code, signal, times) before the shim exits.

``<container>.shim.json`` (shim and child pid, their start times from ``/proc``, the boot id)
is written once the child runs; the daemon, or its successor, verifies a shim against it before
adopting it. Until that record exists, the shim's only trace is the ``flock`` on
``<container>.lock`` it inherited from the daemon: a daemon that finds the lock held knows a
shim is starting. The daemon waits for the shim's exit on a pidfd; nothing else connects the two,
so the daemon may die at any instant.

Only the standard library is imported and no ``site``: the shim costs what a bare interpreter
does (about 9 MB RSS, most of it shared with every other shim; see ``bench/restart``). The
daemon imports this module too, for ``LogWriter`` and the record names.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time

FORMAT = 1  # of the records below; see reconciler.runtime.adopt for what a change means
LAUNCH = ".launch.json"
SHIM = ".shim.json"
EXIT = ".exit.json"
LOCK = ".lock"
SHIM_ERRORS = ".shim.err"
KILL = signal.SIGUSR1  # "SIGKILL the container's group", as asked of the shim
FORWARDED = (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR2)
DRAIN_SECONDS = 1.0  # an escaped grandchild may hold the pipe open: stop reading after this

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 3


def series(base: str, count: int) -> list[str]:
    """``[base, base.1, ..., base.(count-1)]``: newest first."""
    return [base, *(f"{base}.{i}" for i in range(1, count))]


class LogWriter:
    """Appends one container's output to its log file, rotating by size.

    When the next chunk would pass ``max_bytes`` the files shift (``.log`` → ``.log.1`` →
    ``.log.2``; the oldest beyond ``max_files`` is dropped). Rotating in the writer instead of
    copy-and-truncate loses no line.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_files: int = 3,
    ) -> None:
        self.path = os.fspath(path)
        self._max_bytes = max(1, max_bytes)
        self._max_files = max(1, max_files)
        self._fd = -1
        self._size = 0
        self.dropped = 0  # bytes of output lost to a full or read-only disk
        with contextlib.suppress(OSError):  # a full disk: opened at the first write instead
            self._reopen()

    def _reopen(self) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        """Append ``data``; on a full or read-only disk drop it (counted in ``dropped``).

        Raising instead would leave the pipe undrained and the container blocked on it.
        """
        try:
            self._write(data)
        except OSError:
            self.dropped += len(data)

    def _write(self, data: bytes) -> None:
        if self._fd < 0:  # not opened yet, or a rotation could not reopen it: try now
            self._reopen()
        while data:
            room = self._max_bytes - self._size
            if len(data) <= room:
                cut = len(data)
            else:
                # keep lines whole where they fit: cut after the last newline that fits, or
                # start a fresh file for a line that would not fit the rest of this one
                newline = data.rfind(b"\n", 0, max(room, 0))
                if newline >= 0:
                    cut = newline + 1
                elif self._size > 0:
                    self._rotate()
                    continue
                else:
                    cut = room
            written = os.write(self._fd, data[:cut])
            self._size += written
            data = data[written:]

    def _rotate(self) -> None:
        os.close(self._fd)
        files = series(self.path, self._max_files)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files[-1])
        for newer, older in zip(reversed(files[:-1]), reversed(files[1:]), strict=True):
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)
        self._fd = -1
        self._reopen()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``: start time in clock ticks since boot."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def write_json(path: str, value: object) -> None:
    """Atomically (temp file + rename), mode 0600."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    os.replace(tmp, path)


class Shim:
    """One container instance from spawn to exit record (see the module docstring)."""

    def __init__(self, directory: str, container: str) -> None:
        self.base = os.path.join(directory, container)
        with open(self.base + LAUNCH) as handle:
            self.launch = json.load(handle)
        self.pending: list[int] = []
        self.child = 0
        self.started_at = 0.0
        self.kill_at: float | None = None
        self.status: int | None = None

    def on_signal(self, number: int, frame: object) -> None:
        self.pending.append(number)

    def spawn(self, write_fd: int) -> None:
        argv = [str(a) for a in self.launch["argv"]]
        env = {str(k): str(v) for k, v in self.launch["env"].items()}
        os.chdir(self.launch["cwd"])
        self.child = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, write_fd, 1),
                (os.POSIX_SPAWN_DUP2, write_fd, 2),
            ],
            setsid=True,
            setsigmask=(),
            # Python ignores SIGPIPE (and the shim SIGHUP); a container starts with defaults
            setsigdef=(signal.SIGPIPE, signal.SIGHUP, signal.SIGXFSZ),
        )
        self.started_at = time.time()

    def handle_signals(self) -> None:
        pending, self.pending = self.pending, []
        for number in pending:
            if number == signal.SIGCHLD:
                self.reap()
            elif self.status is not None:
                continue
            elif number == signal.SIGTERM:
                self.signal_group(signal.SIGTERM)
                if self.kill_at is None:
                    self.kill_at = time.monotonic() + float(self.launch.get("grace", 30))
            elif number == KILL:
                self.signal_group(signal.SIGKILL)
            elif number in FORWARDED:
                self.signal_group(number)

    def signal_group(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child, number)

    def reap(self) -> None:
        if self.status is not None:
            return
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(self.child, os.WNOHANG)
            if pid == self.child:
                self.status = status
                # what the main process left behind in its group goes with it
                self.signal_group(signal.SIGKILL)

    def serve(self, read_fd: int, wake_fd: int, log: LogWriter) -> None:
        """Copy output until the child has exited and the pipe is drained (or the drain times
        out); act on signals meanwhile."""
        drain_until: float | None = None
        readers = [read_fd, wake_fd]
        while True:
            now = time.monotonic()
            if self.status is not None and drain_until is None:
                drain_until = now + DRAIN_SECONDS
            if drain_until is not None and (now >= drain_until or read_fd not in readers):
                return
            if self.kill_at is not None and now >= self.kill_at and self.status is None:
                self.signal_group(signal.SIGKILL)
                self.kill_at = None
            deadlines = [d for d in (drain_until, self.kill_at) if d is not None]
            timeout = max(0.0, min(deadlines) - now) if deadlines else 1.0
            ready, _, _ = select.select(readers, [], [], timeout)
            if wake_fd in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_fd, 512)
            self.handle_signals()
            if self.status is None:
                self.reap()  # a SIGCHLD can arrive before its handler was installed
            if read_fd in ready:
                try:
                    data = os.read(read_fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    log.write(data)
                else:
                    readers.remove(read_fd)

    def exit_record(self, *, error: str = "") -> dict[str, object]:
        status = self.status if self.status is not None else 0
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = 128 + signal_number if signal_number else os.WEXITSTATUS(status)
        record: dict[str, object] = {
            "format": FORMAT,
            "exit_code": 128 if error else code,
            "signal": signal_number,
            "started_at": self.started_at or time.time(),
            "finished_at": time.time(),
            "reason": "StartError" if error else ("Completed" if code == 0 else "Error"),
        }
        if error:
            record["message"] = error
        return record


def main(argv: list[str]) -> int:
    directory, container, lock_fd = argv[1], argv[2], int(argv[3])
    os.umask(0o077)
    os.set_inheritable(lock_fd, False)  # the lock lives exactly as long as the shim
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal: a hangup means nothing here
    shim = Shim(directory, container)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    for number in (signal.SIGTERM, KILL, signal.SIGCHLD, *FORWARDED):
        signal.signal(number, shim.on_signal)
    log = LogWriter(
        shim.launch["log"],
        max_bytes=int(shim.launch.get("max_bytes", DEFAULT_MAX_BYTES)),
        max_files=int(shim.launch.get("max_files", DEFAULT_MAX_FILES)),
    )
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        shim.spawn(write_fd)
    except OSError as exc:
        write_json(shim.base + EXIT, shim.exit_record(error=str(exc)))
        return 0
    finally:
        os.close(write_fd)
    write_json(
        shim.base + SHIM,
        {
            "format": FORMAT,
            "boot_id": boot_id(),
            "shim": {"pid": os.getpid(), "start_time": start_time(os.getpid())},
            "child": {"pid": shim.child, "pgid": shim.child, "start_time": start_time(shim.child)},
            "started_at": shim.started_at,
        },
    )
    os.set_blocking(read_fd, False)
    shim.serve(read_fd, wake_read, log)
    log.close()
    write_json(shim.base + EXIT, shim.exit_record())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
