"""Per-container cgroups on v1 (one hierarchy per controller) and v2 (unified), and the OOM count.

Layout, under the cgroup the daemon itself runs in (so limits the host puts on the daemon still
bound its pods) or, on v2, the nearest ancestor that can delegate controllers::

    <base>/reconciler-<state id>/<namespace>/<pod>/<container>

``<state id>`` is a digest of the state directory's real path, so two daemons on one host never
share (or remove) each other's cgroups. Limits are set on the container's leaf, as the kubelet
sets them per container. The arithmetic is the kubelet's (``pkg/kubelet/cm/helpers_linux.go``):

>>> cfs_quota(500), cfs_quota(2000), cfs_quota(1)
(50000, 200000, 1000)
>>> cpu_shares(250), cpu_shares(1), cpu_weight(cpu_shares(1000))
(256, 2, 39)
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CFS_PERIOD_US = 100_000
MIN_QUOTA_US = 1_000
MIN_SHARES, MAX_SHARES = 2, 262_144
ROOT = Path("/sys/fs/cgroup")


def cfs_quota(cpu_millis: int, period: int = CFS_PERIOD_US) -> int:
    """``cpu.cfs_quota_us`` for a cpu limit (MilliCPUToQuota): at least 1 ms per period."""
    return max(MIN_QUOTA_US, cpu_millis * period // 1000)


def cpu_shares(cpu_millis: int) -> int:
    """``cpu.shares`` for a cpu request (MilliCPUToShares), within the kernel's bounds."""
    return min(MAX_SHARES, max(MIN_SHARES, cpu_millis * 1024 // 1000))


def cpu_weight(shares: int) -> int:
    """v2 ``cpu.weight`` for v1 shares (CpuSharesToCpuWeight, the OCI runtimes' mapping)."""
    return 1 + ((shares - 2) * 9999) // 262_142


def state_id(state_dir: Path) -> str:
    """The state directory's identity in cgroup names: 12 hex digits of its real path."""
    return hashlib.sha256(os.fsencode(os.path.realpath(state_dir))).hexdigest()[:12]


class Version(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"


@dataclass(frozen=True, slots=True)
class ContainerLimits:
    memory: int | None = None  # bytes
    cpu_limit_millis: int | None = None
    cpu_request_millis: int | None = None

    @property
    def any(self) -> bool:
        return self.memory is not None or self.cpu_limit_millis is not None


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Where the daemon's cgroups go: ``bases`` per controller (v1) or one (v2, key "")."""

    version: Version
    bases: tuple[tuple[str, Path], ...]  # (controller, directory)

    def top(self, state_dir: Path) -> list[Path]:
        name = f"reconciler-{state_id(state_dir)}"
        return [base / name for _, base in self.bases]

    def leaves(self, state_dir: Path, namespace: str, pod: str, container: str) -> list[Path]:
        return [top / namespace / pod / container for top in self.top(state_dir)]


def own_cgroup(controller: str, proc_cgroup: str) -> str | None:
    """The daemon's path in a hierarchy, from ``/proc/self/cgroup`` (``""`` names v2).

    >>> own_cgroup("memory", "4:memory:/a/b\\n1:cpu,cpuacct:/\\n0::/user.slice\\n")
    '/a/b'
    >>> own_cgroup("cpu", "1:cpu,cpuacct:/\\n"), own_cgroup("", "0::/x\\n")
    ('/', '/x')
    """
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and (controller in parts[1].split(",") or parts[1] == controller):
            if controller == "" and parts[0] != "0":
                continue
            return parts[2]
    return None


def detect(root: Path = ROOT, proc_cgroup: str | None = None) -> tuple[Hierarchy | None, str]:
    """The usable hierarchy, or None and why not (the text ``validate`` and ``describe`` show)."""
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError as exc:
            return None, f"cannot read /proc/self/cgroup ({exc.strerror})"
    controllers = root / "cgroup.controllers"
    if controllers.exists():
        return _detect_v2(root, proc_cgroup)
    bases = []
    for controller in ("memory", "cpu"):
        directory = root / controller
        own = own_cgroup(controller, proc_cgroup)
        if not (directory / "cgroup.procs").exists() or own is None:
            return None, f"no cgroup v1 {controller} controller mounted at {directory}"
        base = directory / own.lstrip("/")
        if not os.access(base, os.W_OK):
            return None, f"{base} is not writable (run the daemon as root)"
        bases.append((controller, base))
    return Hierarchy(Version.V1, tuple(bases)), ""


def _detect_v2(root: Path, proc_cgroup: str) -> tuple[Hierarchy | None, str]:
    available = (root / "cgroup.controllers").read_text().split()
    missing = [c for c in ("memory", "cpu") if c not in available]
    if missing:
        return None, f"cgroup v2 at {root} has no {' or '.join(missing)} controller"
    own = own_cgroup("", proc_cgroup) or "/"
    # a v2 cgroup with processes cannot delegate controllers: climb to one that can
    here = root / own.lstrip("/")
    while True:
        control = here / "cgroup.subtree_control"
        enabled = control.read_text().split() if control.exists() else []
        if all(c in enabled for c in ("memory", "cpu")):
            if os.access(here, os.W_OK):
                return Hierarchy(Version.V2, (("", here),)), ""
        elif os.access(control, os.W_OK):
            try:
                control.write_text("+memory +cpu")
            except OSError:
                pass
            else:
                return Hierarchy(Version.V2, (("", here),)), ""
        if here == root:
            return None, f"no cgroup under {root} can delegate the memory and cpu controllers"
        here = here.parent


class ContainerCgroup:
    """One container's leaves: created with its limits, joined by the exec wrapper, removed."""

    def __init__(self, hierarchy: Hierarchy, leaves: list[Path], tops: list[Path]) -> None:
        self.hierarchy = hierarchy
        self.leaves = leaves
        self._tops = tops

    @property
    def memory_leaf(self) -> Path:
        if self.hierarchy.version is Version.V2:
            return self.leaves[0]
        pairs = zip(self.hierarchy.bases, self.leaves, strict=True)
        return next(leaf for (controller, _), leaf in pairs if controller == "memory")

    def create(self, limits: ContainerLimits) -> None:
        for top, leaf in zip(self._tops, self.leaves, strict=True):
            _make_levels(top, leaf, v2=self.hierarchy.version is Version.V2)
        if self.hierarchy.version is Version.V2:
            self._apply_v2(limits)
        else:
            self._apply_v1(limits)

    def _apply_v1(self, limits: ContainerLimits) -> None:
        for (controller, _), leaf in zip(self.hierarchy.bases, self.leaves, strict=True):
            if controller == "memory" and limits.memory is not None:
                (leaf / "memory.limit_in_bytes").write_text(str(limits.memory))
                swap = leaf / "memory.memsw.limit_in_bytes"
                if swap.exists():  # memory+swap = memory: no swapping past the limit
                    swap.write_text(str(limits.memory))
            if controller == "cpu":
                if limits.cpu_limit_millis is not None:
                    (leaf / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                    (leaf / "cpu.cfs_quota_us").write_text(str(cfs_quota(limits.cpu_limit_millis)))
                if limits.cpu_request_millis is not None:
                    (leaf / "cpu.shares").write_text(str(cpu_shares(limits.cpu_request_millis)))

    def _apply_v2(self, limits: ContainerLimits) -> None:
        leaf = self.leaves[0]
        if limits.memory is not None:
            (leaf / "memory.max").write_text(str(limits.memory))
            swap = leaf / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
        if limits.cpu_limit_millis is not None:
            quota = cfs_quota(limits.cpu_limit_millis)
            (leaf / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
        if limits.cpu_request_millis is not None:
            weight = cpu_weight(cpu_shares(limits.cpu_request_millis))
            (leaf / "cpu.weight").write_text(str(weight))

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer took in this container so far."""
        leaf = self.memory_leaf
        name = "memory.events" if self.hierarchy.version is Version.V2 else "memory.oom_control"
        try:
            text = (leaf / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        # kernels before 4.13 lack the counter: hitting the limit is the best evidence left
        with contextlib.suppress(OSError, ValueError):
            return int((leaf / "memory.failcnt").read_text())
        return 0

    def pids(self) -> list[int]:
        out: set[int] = set()
        for leaf in self.leaves:
            with contextlib.suppress(OSError):
                out.update(int(p) for p in (leaf / "cgroup.procs").read_text().split())
        return sorted(out)

    def kill_all(self, *, timeout: float = 5.0) -> None:
        """SIGKILL everything left in the container (grandchildren that left its group too)."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        """Remove the leaves, then every level above that is left empty, up to the top."""
        self.kill_all()
        for top, leaf in zip(self._tops, self.leaves, strict=True):
            remove_tree(leaf)
            here = leaf.parent
            while here != top.parent:
                if not _rmdir(here):
                    break
                here = here.parent


def _make_levels(top: Path, leaf: Path, *, v2: bool) -> None:
    """mkdir top, the namespace and pod levels and the leaf; on v2 each level but the leaf
    delegates memory and cpu to its children (only leaves hold processes)."""
    parts = leaf.relative_to(top).parts
    for depth in range(len(parts) + 1):
        level = top.joinpath(*parts[:depth])
        with contextlib.suppress(FileExistsError):
            level.mkdir()
        if v2 and level != leaf:
            _enable_controllers(level)


def _enable_controllers(directory: Path) -> None:
    control = directory / "cgroup.subtree_control"
    enabled = control.read_text().split() if control.exists() else []
    wanted = [c for c in ("memory", "cpu") if c not in enabled]
    if wanted:
        control.write_text(" ".join(f"+{c}" for c in wanted))


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
            return False
        raise
    return True


def _walk_bottom_up(path: Path) -> Iterator[Path]:
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            if child.is_dir():
                yield from _walk_bottom_up(child)
    yield path


def kill_tree(path: Path, *, timeout: float = 5.0) -> None:
    """SIGKILL every process in a cgroup and its children until none is left (or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids: set[int] = set()
        for directory in _walk_bottom_up(path):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def remove_tree(path: Path) -> bool:
    """rmdir a cgroup and its children, bottom up (cgroup files cannot be unlinked); False if
    a process still holds one."""
    if not path.exists():
        return True
    return all([_rmdir(p) for p in _walk_bottom_up(path)])


__all__ = [
    "CFS_PERIOD_US",
    "ContainerCgroup",
    "ContainerLimits",
    "Hierarchy",
    "Version",
    "cfs_quota",
    "cpu_shares",
    "cpu_weight",
    "detect",
    "kill_tree",
    "own_cgroup",
    "remove_tree",
    "state_id",
]
