"""Container logs: the runtime writes them, ``logs`` reads them, with or without a daemon.

The container's shim (``reconciler.runtime.shim``, where ``LogWriter`` lives: it runs there,
not in the daemon) reads its stdout and stderr (one pipe) and appends to
``<container>.log``; when the next chunk would pass ``max_bytes`` the files shift
(``.log`` → ``.log.1`` → ``.log.2``; the oldest beyond ``max_files`` is dropped), so a chatty
container never fills the disk. Rotating in the writer instead of copy-and-truncate loses no
line. On a restart the current files become ``<container>.previous.log[.N]`` (``logs -p``).

Readers only need the state directory: ``read_log`` concatenates the rotated files oldest
first; ``follow_log`` keeps reading across rotations and restarts (it notices the path now
names another file) and ends once the pod is gone and its log stopped growing.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler.errors import NotFoundError
from reconciler.runtime.layout import (
    container_file,
    pod_logs_dir,
    pod_runtime_dir,
    read_json,
)
from reconciler.runtime.records import process_alive
from reconciler.runtime.shim import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FILES,
    SHIM,
    LogWriter,
    series,
)
from reconciler.store import lock

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILES",
    "LogWriter",
    "current_log",
    "follow_log",
    "keep_as_previous",
    "pod_containers",
    "pod_is_gone",
    "previous_log",
    "read_log",
    "resolve_container",
]


def _series(base: Path, count: int) -> list[Path]:
    """``[base, base.1, ..., base.(count-1)]``: newest first."""
    return [Path(p) for p in series(os.fspath(base), count)]


def current_log(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    return container_file(pod_logs_dir(state_dir, namespace, pod), container, ".log")


def previous_log(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    return container_file(pod_logs_dir(state_dir, namespace, pod), container, ".previous.log")


def keep_as_previous(current: Path, previous: Path, *, max_files: int) -> None:
    """On a restart: the current instance's files become the previous instance's."""
    for path in _series(previous, max_files + 1):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    for old, new in zip(_series(current, max_files), _series(previous, max_files), strict=True):
        with contextlib.suppress(FileNotFoundError):
            os.replace(old, new)


def pod_containers(state_dir: Path, namespace: str, pod: str) -> list[str]:
    """The pod's container names in manifest order; NotFoundError if there is no such pod."""
    record = read_json(pod_runtime_dir(state_dir, namespace, pod) / "pod.json")
    if not isinstance(record, dict) or not isinstance(record.get("containers"), list):
        raise NotFoundError(f'pods "{pod}" not found')
    return [str(name) for name in record["containers"]]


def resolve_container(state_dir: Path, namespace: str, pod: str, container: str | None) -> str:
    """The named container, or the pod's first one (kubectl's default) when None."""
    names = pod_containers(state_dir, namespace, pod)
    if container is None:
        return names[0]
    if container not in names:
        raise NotFoundError(f"container {container} is not valid for pod {pod}")
    return container


def _read_series(base: Path, *, rotated_only: bool = False) -> bytes:
    """The rotated files oldest first (highest number first), then ``base`` itself."""
    rotated = [p for p in base.parent.glob(f"{base.name}.*") if p.suffix[1:].isdigit()]
    rotated.sort(key=lambda p: -int(p.suffix[1:]))
    chunks = []
    for path in rotated if rotated_only else [*rotated, base]:
        with contextlib.suppress(FileNotFoundError):
            chunks.append(path.read_bytes())
    return b"".join(chunks)


def _tail(text: str, tail: int | None) -> str:
    if tail is None or tail < 0:
        return text
    if tail == 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:])


def read_log(
    state_dir: Path,
    namespace: str,
    pod: str,
    container: str | None,
    *,
    tail: int | None = None,
    previous: bool = False,
) -> str:
    """The container's log (``kubectl logs [--tail N] [-p]``)."""
    name = resolve_container(state_dir, namespace, pod, container)
    if previous:
        base = previous_log(state_dir, namespace, pod, name)
        if not base.exists():
            raise NotFoundError(f'previous terminated container "{name}" in pod "{pod}" not found')
    else:
        base = current_log(state_dir, namespace, pod, name)
    return _tail(_read_series(base).decode("utf-8", "replace"), tail)


def pod_is_gone(state_dir: Path, namespace: str, pod: str) -> bool:
    """True once the pod's record is removed, or neither a shim of it nor a daemon is alive
    (pods outlive the daemon: a running one is followed while none runs)."""
    runtime_dir = pod_runtime_dir(state_dir, namespace, pod)
    record = read_json(runtime_dir / "pod.json")
    if not isinstance(record, dict):
        return True
    for path in runtime_dir.glob(f"*{SHIM}"):
        shim = read_json(path)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if process_alive(int(shim["shim"]["pid"]), shim["shim"]["start_time"]):
                return False
    # starting or between instances: gone unless a daemon runs that will start the next one
    if lock.holder(state_dir) is not None:
        return False
    owner = record.get("daemon")
    if isinstance(owner, dict):
        return not process_alive(int(owner.get("pid", 0)), owner.get("start_time"))
    return True


def follow_log(
    state_dir: Path,
    namespace: str,
    pod: str,
    container: str | None,
    *,
    tail: int | None = None,
    stop: Callable[[], bool] | None = None,
    poll_interval: float = 0.1,
) -> Iterator[str]:
    """Yield the log's lines (``kubectl logs -f``) until the pod is gone or ``stop()`` is true."""
    name = resolve_container(state_dir, namespace, pod, container)
    path = current_log(state_dir, namespace, pod, name)
    handle = _open_or_none(path)
    # what is already there: the rotated files (oldest first), then the open file from its start
    pending = _read_series(path, rotated_only=True) + (handle.read() if handle else b"")
    lines = pending.splitlines(keepends=True)
    pending = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
    if tail is not None and tail >= 0:
        lines = lines[-tail:] if tail else []
    for line in lines:
        yield line.decode("utf-8", "replace")
    try:
        while True:
            data = handle.read() if handle is not None else b""
            if data:
                pending += data
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", "replace") + "\n"
                continue
            if _replaced(handle, path):
                if handle is not None:
                    handle.close()
                handle = _open_or_none(path)
                continue
            if (stop is not None and stop()) or pod_is_gone(state_dir, namespace, pod):
                # one last read: the writer may have flushed between our read and the check
                rest = handle.read() if handle is not None else b""
                pending += rest
                if pending:
                    yield pending.decode("utf-8", "replace")
                return
            time.sleep(poll_interval)
    finally:
        if handle is not None:
            handle.close()


def _open_or_none(path: Path) -> io.BufferedReader | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _replaced(handle: io.BufferedReader | None, path: Path) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    if handle is None:
        return True
    mine = os.fstat(handle.fileno())
    return (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev)
