"""Process records: what the runtime started, so a crashed daemon leaves nothing behind.

Every container process is recorded (pid, process group, and its start time from field 22 of
``/proc/<pid>/stat``, plus the boot id) before anyone can see it Running, and the record is
removed once the process group is gone. The next daemon's ``start()`` reads the records and
kills each recorded group whose leader still has the recorded start time: a pid reused by an
unrelated process has another start time, and after a reboot the boot id differs.

If the leader died but members of its group live on, they are found by scanning ``/proc`` for
the recorded group id among processes started no earlier than the leader. (While any member
lives, Linux does not hand the leader's number to a new process, so a live process at the
recorded pid with another start time means the whole group is gone.) Processes that
escaped the group on purpose (``setsid`` double-forking daemons) are not tracked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from reconciler.runtime.layout import read_json, runtime_root, write_private_json

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (index 0 is field 3, ``state``)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # the command name (field 2) is in parentheses and may itself contain ") "
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``: start time in clock ticks since boot."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def process_alive(pid: int, start_time: object = None) -> bool:
    """Is ``pid`` a live (non-zombie) process, with ``start_time`` if given?"""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return start_time is None or int(fields[19]) == start_time


def group_members(pgid: int, *, started_since: int = 0) -> list[int]:
    """Live processes in process group ``pgid`` started at or after ``started_since``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if not fields or len(fields) < 20 or fields[0] in ("Z", "X"):
            continue
        if int(fields[2]) == pgid and int(fields[19]) >= started_since:
            members.append(int(entry.name))
    return members


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    pid: int
    pgid: int
    start_time: int
    boot_id: str

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        """Record a process we just started (its own group leader)."""
        return cls(pid=pid, pgid=pid, start_time=process_start_time(pid) or 0, boot_id=boot_id())

    def save(self, path: Path) -> None:
        write_private_json(
            path,
            {
                "pid": self.pid,
                "pgid": self.pgid,
                "start_time": self.start_time,
                "boot_id": self.boot_id,
            },
        )

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        data = read_json(path)
        try:
            return cls(
                pid=int(data["pid"]),
                pgid=int(data["pgid"]),
                start_time=int(data["start_time"]),
                boot_id=str(data["boot_id"]),
            )
        except (TypeError, KeyError, ValueError):
            return None

    def kill(self) -> list[int]:
        """SIGKILL what is left of this record's group; returns the pids it signalled."""
        if self.boot_id != boot_id() or self.pgid <= 1:
            return []
        if process_alive(self.pid, self.start_time):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)
            return [self.pid]
        if process_start_time(self.pid) is not None:
            # the pid is in use by another process: Linux reuses a number only once no group
            # refers to it any more, so the recorded group is gone and this is a bystander
            return []
        killed = []
        for pid in group_members(self.pgid, started_since=self.start_time):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        return killed


def _environ(pid: int) -> dict[bytes, bytes]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


def unrecorded_pod_processes(root: Path) -> list[int]:
    """Live processes of pods in ``root`` that a crash left without a ``.proc.json`` record.

    A daemon killed between spawning a container and saving its record (the spawn is awaited,
    so that is a few event-loop steps) leaves a process no record names. Its pod's
    ``pod.json`` is written before any spawn, so such a process is found by the ``POD_NAME``
    and ``POD_NAMESPACE`` the runtime put in its environment, among processes started after
    the daemon that wrote the ``pod.json``.
    """
    pods: set[tuple[bytes, bytes]] = set()
    since: int | None = None
    for path in root.glob("*/*/pod.json"):
        data = read_json(path)
        if not isinstance(data, dict):
            continue
        pods.add((str(data.get("namespace", "")).encode(), str(data.get("name", "")).encode()))
        daemon = data.get("daemon") or {}
        started = daemon.get("start_time") if isinstance(daemon, dict) else None
        if isinstance(started, int):
            since = started if since is None else min(since, started)
    if not pods:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = _stat_fields(int(entry.name))
        if not fields or len(fields) < 20 or fields[0] in ("Z", "X"):
            continue
        if since is not None and int(fields[19]) < since:
            continue
        env = _environ(int(entry.name))
        if (env.get(b"POD_NAMESPACE", b""), env.get(b"POD_NAME", b"")) in pods:
            found.append(int(entry.name))
    return found


def clean_leftovers(state_dir: Path) -> list[int]:
    """Kill every recorded process group of a previous daemon and clear the records.

    Returns the pids signalled. The log folders of those pods are removed too: the pods are gone.
    """
    root = runtime_root(state_dir)
    killed: list[int] = []
    if not root.is_dir():
        return killed
    for path in sorted(root.glob("*/*/*.proc.json")):
        record = ProcessRecord.load(path)
        if record is not None:
            killed.extend(record.kill())
    for pid in unrecorded_pod_processes(root):
        if pid in killed:
            continue
        # its own group once it ran setsid; never the group of anything else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    for namespace in root.iterdir():
        if namespace.is_dir():
            for pod in namespace.iterdir():
                shutil.rmtree(state_dir / "logs" / namespace.name / pod.name, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    return killed
