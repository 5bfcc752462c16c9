"""Restart benchmark (issue 13): how fast a daemon adopts 100 pods, and what a shim costs.

Run on demand, not in CI (venv active, from the repo root):

    python bench/restart/bench_restart.py [--pods 100] [--rounds 5] [--shims 50]

- restart: a Deployment of ``--pods`` replicas (``sleep`` containers, no probe) is started
  from an empty state; then, ``--rounds`` times each, the daemon is stopped with SIGTERM or
  killed with -9 and started again. "Adopted and reconciling" is the daemon's
  ``daemon_started`` log line (after the adoption, the first sync, the Services bound and every
  Deployment queued), timed from the moment ``reconciler run`` is launched; the adoption alone
  is ``pods_adopted``. Each round checks the same pods and processes, with 0 restarts. The same
  start on an empty folder is the baseline (the interpreter and its imports).
- adopt: the adoption alone, in-process (``ProcessRuntime.start()`` on the stopped daemon's
  state, then ``detach()``), ``--rounds`` times: what a restart costs beyond the interpreter's
  start and the daemon's imports (also timed: ``python -c "import reconciler.daemon.loop ..."``).
- shims: RSS, PSS and USS (``/proc/<pid>/smaps_rollup``) of every shim of those pods, and the
  time from asking for a container to its shim's record (``spawn_shim``), ``--shims`` times.
- down: ``reconciler down`` of all of them, and what is left afterwards (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.fspath(ROOT))

from reconciler.runtime.supervisor import ShimHandle, spawn_shim  # noqa: E402
from tests.e2e.harness import DaemonProcess, processes_with, wait_for  # noqa: E402
from tests.reliability.fleet import pod_processes  # noqa: E402


def manifest(replicas: int, token: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: idle}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: idle}}}}
  template:
    metadata: {{labels: {{app: idle}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: idle:1
          command: ["sleep", "3600"]
          env: [{{name: E2E_TOKEN, value: "{token}"}}]
"""


def _events(log: Path, offset: int) -> dict[str, float]:
    """The first timestamp of each event of this run (the log is appended across runs)."""
    seen: dict[str, float] = {}
    with open(log, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            stamp = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            seen.setdefault(entry["event"], stamp)
    return seen


def timed_start(daemon: DaemonProcess) -> dict[str, float]:
    offset = daemon.log.stat().st_size if daemon.log.exists() else 0
    launched = time.time()
    daemon.start()
    events = _events(daemon.log, offset)
    out = {"reconciling_s": events["daemon_started"] - launched}
    if "pods_adopted" in events:
        out["adopted_s"] = events["pods_adopted"] - launched
    return out


def _memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of one process, in MiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"rss": fields["Rss"] / 1024, "pss": fields["Pss"] / 1024, "uss": uss / 1024}


def shim_memory(state: Path) -> dict[str, float]:
    pids = processes_with(os.fspath(state / "runtime"))
    samples = [_memory(pid) for pid in pids]
    return {
        "shims": len(samples),
        **{f"{key}_mib": statistics.mean(s[key] for s in samples) for key in ("rss", "pss", "uss")},
    }


def shim_start_times(work: Path, count: int) -> dict[str, float]:
    """spawn_shim → the shim's record, for a container that exits at once."""

    async def run() -> list[float]:
        took = []
        for i in range(count):
            directory = work / "spawn" / f"p{i}"
            directory.mkdir(parents=True)
            started = time.perf_counter()
            handle = await spawn_shim(
                directory,
                "app",
                argv=["/bin/true"],
                env={"PATH": os.defpath},
                cwd=directory,
                log=directory / "app.log",
                grace=1,
                max_bytes=1 << 20,
                max_files=1,
            )
            took.append(time.perf_counter() - started)
            assert isinstance(handle, ShimHandle), handle
            await handle.exited()
            handle.release()
        return took

    took = asyncio.run(run())
    return {
        "median_ms": statistics.median(took) * 1000,
        "p99_ms": sorted(took)[max(0, int(len(took) * 0.99) - 1)] * 1000,
    }


def adopt_in_process(state: Path, *, rounds: int, pods: int) -> dict[str, float]:
    from reconciler import log
    from reconciler.runtime.process import ProcessRuntime

    log.configure("warning", json=True)

    async def once() -> float:
        runtime = ProcessRuntime(state)
        started = time.perf_counter()
        await runtime.start()
        took = time.perf_counter() - started
        assert len(runtime.pods()) == pods
        await runtime.detach()
        return took

    took = [asyncio.run(once()) for _ in range(rounds)]
    return {"median_ms": statistics.median(took) * 1000, "max_ms": max(took) * 1000}


def import_time() -> float:
    """The daemon's imports in a fresh interpreter (what every start pays before adopting)."""
    code = (
        "import reconciler.cli, reconciler.daemon.loop, reconciler.proxy.server, "
        "reconciler.runtime.process, reconciler.store"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - started


def restart_rounds(daemon: DaemonProcess, *, rounds: int, pods: int, token: str) -> dict[str, Any]:
    before = pod_processes(token)
    assert len(before) == pods, len(before)
    figures: dict[str, Any] = {}
    for how in ("sigterm", "sigkill"):
        starts = []
        for _ in range(rounds):
            if how == "sigterm":
                stopped = time.time()
                assert daemon.stop() == 0
                figures.setdefault("sigterm_exit_s", []).append(time.time() - stopped)
            else:
                daemon.kill()
            starts.append(timed_start(daemon))
            wait_for(lambda: len(daemon.pods()) == pods, what="pods listed")
            assert pod_processes(token) == before, "a pod process changed over a restart"
            restarts = sum(p.restarts for p in daemon.pods())
            assert restarts == 0, f"{restarts} restarts"
        for key in ("reconciling_s", "adopted_s"):
            values = [s[key] for s in starts]
            figures[f"{how}_{key}"] = {"median": statistics.median(values), "max": max(values)}
    figures["sigterm_exit_s"] = statistics.median(figures["sigterm_exit_s"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shims", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    token = f"bench-restart-{os.getpid()}"
    folder = work / "manifests"
    folder.mkdir()
    daemon = DaemonProcess(folder, work / "state")
    results: dict[str, Any] = {"pods": args.pods}
    try:
        results["empty_start_s"] = timed_start(daemon)["reconciling_s"]
        (folder / "idle.yaml").write_text(manifest(args.pods, token))
        started = time.time()
        wait_for(
            lambda: (
                len(pod_processes(token)) == args.pods
                and sum(p.ready for p in daemon.pods()) == args.pods
            ),
            timeout=300,
            what="all pods Ready",
        )
        results["cold_all_ready_s"] = time.time() - started
        results.update(restart_rounds(daemon, rounds=args.rounds, pods=args.pods, token=token))
        results["shim_memory"] = shim_memory(daemon.state)
        assert daemon.stop() == 0
        results["adopt_in_process"] = adopt_in_process(
            daemon.state, rounds=args.rounds, pods=args.pods
        )
        results["python_and_imports_s"] = statistics.median(import_time() for _ in range(3))
        timed_start(daemon)
        assert daemon.proc is not None
        results["daemon_rss_mib"] = _memory(daemon.proc.pid)["rss"]
        container = next(iter(pod_processes(token)))
        results["container_rss_mib"] = _memory(container)["rss"]
        daemon.stop()
        stopped = time.time()
        result = daemon.down(timeout=300)
        results["down_s"] = time.time() - stopped
        assert result.returncode == 0, result.stderr
        results["left_after_down"] = len(pod_processes(token)) + len(
            processes_with(os.fspath(daemon.state / "runtime"))
        )
        results["shim_start"] = shim_start_times(work, args.shims)
    finally:
        daemon.stop()
        if daemon.state.exists():
            daemon.down(timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
