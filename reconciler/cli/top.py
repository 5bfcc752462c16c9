"""``reconciler top pods [NAME] [-l SEL] [--containers] [--sort-by cpu|memory]`` and ``top node``.

What metrics-server would report, read from the kernel: a container's CPU is the time its
processes spent (``utime + stime`` of ``/proc/<pid>/stat``, summed over the container's process
group and its descendants) over a short sampling window, in millicores; its memory is their
resident set, in ``Mi`` (kubectl's binary units). A process pod's processes are found from its
shim record (the verified child pid), a podman pod's from ``podman inspect``'s ``State.Pid``.
A pod with no running container has no metrics and is left out, as kubectl leaves it out
(``top pod NAME`` says ``error: Metrics not available for pod default/NAME``). ``top node``
is this host (``localhost``): ``/proc/stat`` over the window and ``MemTotal - MemAvailable``,
with the percentages of all CPUs and of all memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli import output
from reconciler.cli.common import common_options, open_store, state_dir
from reconciler.cli.describe_text import kubectl_not_found
from reconciler.cli.selectors import matcher
from reconciler.cli.views import pods_of
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.runtime import ContainerState, PodStatus

__all__ = ["cpu_text", "memory_text", "register"]

WINDOW = 0.5
"""Seconds between the two samples a CPU rate is measured over."""

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_text(millicores: float) -> str:
    """kubectl's CPU: whole millicores.

    >>> cpu_text(0.4), cpu_text(12.6)
    ('0m', '13m')
    """
    return f"{round(millicores)}m"


def memory_text(size: int) -> str:
    """kubectl's memory: whole mebibytes.

    >>> memory_text(12 * 1024 * 1024 + 1)
    '12Mi'
    """
    return f"{size // (1024 * 1024)}Mi"


def _processes() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (ppid, pgid, cpu ticks, resident bytes) of every live process."""
    table: dict[int, tuple[int, int, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if len(fields) < 22 or fields[0] in ("Z", "X"):
            continue
        ticks = int(fields[11]) + int(fields[12])
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), ticks, int(fields[21]) * _PAGE)
    return table


def _tree(roots: Iterable[int], table: dict[int, tuple[int, int, int, int]]) -> set[int]:
    """``roots``, the members of their process groups, and all their descendants."""
    found = {pid for pid in roots if pid in table}
    groups = set(found)
    found |= {pid for pid, row in table.items() if row[1] in groups}
    changed = True
    while changed:
        more = {pid for pid, row in table.items() if row[0] in found and pid not in found}
        found |= more
        changed = bool(more)
    return found


@dataclass(frozen=True, slots=True)
class _Container:
    pod: PodStatus
    name: str
    root: int


def _root_pid(state: Path, pod: PodStatus, container: str) -> int | None:
    from reconciler.runtime.layout import pod_runtime_dir
    from reconciler.runtime.podman.records import podman_target
    from reconciler.runtime.supervisor import ShimRecord, paths

    try:
        target = podman_target(state, pod.namespace, pod.name, container)
    except ReconcilerError:
        return None
    if target is not None:
        argv = target.argv("inspect", "--format", "{{.State.Pid}}", target.container_id)
        done = subprocess.run(argv, env=target.env, capture_output=True, text=True, check=False)
        pid = done.stdout.strip()
        return int(pid) if done.returncode == 0 and pid.isdigit() and int(pid) > 0 else None
    shim = paths(pod_runtime_dir(state, pod.namespace, pod.name), container)["shim"]
    record = ShimRecord.load(shim) if shim.exists() else None
    if record is None or not record.child_verified():
        return None
    return record.child_pid


def _measure(containers: Sequence[_Container]) -> dict[tuple[str, str], tuple[float, int]]:
    """(pod, container) -> (millicores, resident bytes), over ``WINDOW``."""
    first, began = _processes(), time.monotonic()
    time.sleep(WINDOW)
    second, elapsed = _processes(), time.monotonic() - began
    out = {}
    for c in containers:
        now_pids = _tree([c.root], second)
        before = sum(first[p][2] for p in _tree([c.root], first))
        after = sum(second[p][2] for p in now_pids)
        millicores = max(0, after - before) / _TICKS / elapsed * 1000
        out[(c.pod.name, c.name)] = (millicores, sum(second[p][3] for p in now_pids))
    return out


def _top_pods(args: argparse.Namespace) -> int:
    root = state_dir(args, create=False)
    with open_store(args) as store:
        pods = pods_of(store.list_pods(args.namespace))
    match = matcher(args.selector or "")
    if args.name:
        pods = [p for p in pods if p.name == args.name]
        if not pods:
            raise NotFoundError(f'Error from server (NotFound): pods "{args.name}" not found')
    pods = sorted((p for p in pods if match(p.labels)), key=lambda p: p.name)
    containers = []
    for pod in pods:
        for status in pod.containers:
            if status.state != ContainerState.RUNNING:
                continue
            pid = _root_pid(root, pod, status.name)
            if pid is not None:
                containers.append(_Container(pod, status.name, pid))
    if args.name and not containers:
        raise ReconcilerError(
            f"error: Metrics not available for pod {args.namespace}/{args.name}, "
            f"age: {output.human_duration(time.time() - pods[0].created_at)}"
        )
    if not containers:
        print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
        return 0
    usage = _measure(containers)
    rows: list[tuple[list[str], float, int]] = []
    if args.containers:
        for c in containers:
            cpu, memory = usage[(c.pod.name, c.name)]
            rows.append(([c.pod.name, c.name, cpu_text(cpu), memory_text(memory)], cpu, memory))
        header = ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    else:
        for pod_name in dict.fromkeys(c.pod.name for c in containers):
            parts = [v for k, v in usage.items() if k[0] == pod_name]
            cpu, memory = sum(p[0] for p in parts), sum(p[1] for p in parts)
            rows.append(([pod_name, cpu_text(cpu), memory_text(memory)], cpu, memory))
        header = ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    if args.sort_by:
        rows.sort(key=lambda r: r[1] if args.sort_by == "cpu" else r[2], reverse=True)
    table = [r[0] for r in rows]
    sys.stdout.write(output.table(table if args.no_headers else [header, *table]))
    return 0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle, sum(fields[:8])


def _top_node(args: argparse.Namespace) -> int:
    if args.name and args.name != "localhost":
        raise NotFoundError(f'Error from server (NotFound): nodes "{args.name}" not found')
    busy0, total0 = _cpu_times()
    time.sleep(WINDOW)
    busy1, total1 = _cpu_times()
    cpus = os.cpu_count() or 1
    share = (busy1 - busy0) / max(1, total1 - total0)
    millicores = share * cpus * 1000
    info = {
        line.split(":")[0]: int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.split()[1:2] and line.split()[1].isdigit()
    }
    used = info["MemTotal"] - info.get("MemAvailable", info.get("MemFree", 0))
    row = [
        "localhost",
        cpu_text(millicores),
        f"{round(share * 100)}%",
        memory_text(used),
        f"{round(used * 100 / info['MemTotal'])}%",
    ]
    header = ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    sys.stdout.write(output.table([row] if args.no_headers else [header, row]))
    return 0


@kubectl_not_found
def top(args: argparse.Namespace) -> int:
    what = args.resource.lower()
    if what in ("pod", "pods", "po"):
        return _top_pods(args)
    if what in ("node", "nodes", "no"):
        return _top_node(args)
    raise UsageError(f'error: unknown resource "{args.resource}" for top: use pods or node')


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "top",
        parents=[common_options()],
        help="CPU and memory of pods or of the node (from /proc)",
    )
    parser.add_argument("resource", metavar="pods|node")
    parser.add_argument("name", nargs="?", help="one pod (or the node, localhost)")
    parser.add_argument("-l", "--selector", help="the pods whose labels match")
    parser.add_argument("--containers", action="store_true", help="one line per container")
    parser.add_argument("--sort-by", choices=["cpu", "memory"], help="largest first")
    parser.add_argument("--no-headers", action="store_true", help="no header line")
    parser.set_defaults(func=top)
