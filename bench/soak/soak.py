"""The long reliability soak, run on demand (never in CI): crash loops and a folder under load.

Why a script and not a test: it runs for minutes and prints figures for ``bench/README.md``.

    python bench/soak/soak.py crash --iterations 50          # kill -9 at seeded random moments
    python bench/soak/soak.py load --deployments 300 --interval 0.1 --minutes 10

``crash`` runs the CI crash test's iteration (``tests/reliability/test_crash.py``) in a loop:
four Deployments, one per strategy, each behind a Service; every check of the test runs after
every restart. ``load`` applies 300 Deployments, then rewrites one file (a new image) every
``interval`` seconds while a reader runs ``reconciler get deployments`` in a loop; at the end
every Deployment must run exactly the image its file names, and the daemon's RSS (sampled every
5 s), the event table and the state directory's size must have stayed bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port  # noqa: E402
from tests.e2e.harness import DaemonProcess, processes_with, wait_for  # noqa: E402
from tests.e2e.load import Load  # noqa: E402
from tests.reliability.fleet import (  # noqa: E402
    STRATEGIES,
    Member,
    wait_settled,
    write_atomically,
    write_fleet,
)
from tests.reliability.test_crash import crash_iteration  # noqa: E402


def _cleanup(daemon: DaemonProcess, token: str) -> None:
    daemon.stop()
    daemon.down()  # pods outlive the daemon
    try:
        wait_for(lambda: not processes_with(token), timeout=30, what="pods gone")
    finally:
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)


def crash(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="soak-crash-"))
    folder = tmp / "manifests"
    folder.mkdir()
    token = f"soak-{tmp.name}"
    daemon = DaemonProcess(folder, tmp / "state")
    members = [Member(name, free_port()) for name in STRATEGIES]
    rng = random.Random(args.seed)
    delays: list[float] = []
    old_pods = 0
    adopted = 0
    started = time.monotonic()
    try:
        write_fleet(folder, members, version=1, token=token)
        daemon.start()
        wait_settled(daemon, members, version=1)
        # requests through every Service, a new connection each, all along: the data plane
        # serves them while no daemon runs (Recreate's own gap between versions aside)
        with contextlib.ExitStack() as stack:
            loads = {
                m.name: stack.enter_context(Load(m.port, workers=2, rate=40, max_seconds=7200))
                for m in members
            }
            for attempt in range(args.iterations):
                result = crash_iteration(
                    daemon,
                    folder,
                    members,
                    token=token,
                    version=attempt + 2,
                    rng=rng,
                    attempt=attempt,
                )
                delays.append(float(result["delay"]))  # type: ignore[arg-type]
                old_pods += int(result["old_pods"])  # type: ignore[call-overload]
                adopted += int(result["adopted"])  # type: ignore[call-overload]
                print(f"iteration {attempt + 1}: ok {result}", flush=True)
        requests = {
            name: {"ok": load.result.ok, "failed": len(load.result.failures)}
            for name, load in loads.items()
        }
    finally:
        _cleanup(daemon, token)
    return {
        "iterations": args.iterations,
        "seed": args.seed,
        "kills": args.iterations,
        "pod_processes_at_the_kills": old_pods,
        "adopted_by_the_next_daemon": adopted,
        "kill_delay_s": [round(min(delays), 3), round(max(delays), 3)],
        "failures": 0,
        "requests_through_services": requests,
        "seconds": round(time.monotonic() - started, 1),
    }


def _deployment(name: str, image: int, token: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: sleeper:{image}
          command: ["sleep", "100000"]
          env:
            - {{name: SOAK_TOKEN, value: "{token}"}}
"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="soak-load-"))
    folder = tmp / "manifests"
    folder.mkdir()
    token = f"soak-{tmp.name}"
    names = [f"d{i:03d}" for i in range(args.deployments)]
    images = dict.fromkeys(names, 1)
    for name in names:
        write_atomically(folder / f"{name}.yaml", _deployment(name, 1, token))
    daemon = DaemonProcess(folder, tmp / "state", "--resync", "30")
    rss: list[int] = []
    reads = {"ok": 0, "failed": 0}
    stop = threading.Event()
    started = time.monotonic()
    edits = 0
    try:
        daemon.start()
        assert daemon.proc is not None
        pid = daemon.proc.pid

        def running() -> dict[str, str]:
            return {
                p.labels.get("app", ""): p.containers[0].image
                for p in daemon.pods()
                if not p.terminating and p.ready
            }

        wait_for(lambda: len(running()) == len(names), timeout=300, what="all pods up")
        print(f"{len(names)} deployments up after {time.monotonic() - started:.0f}s", flush=True)

        def sample() -> None:
            while not stop.is_set():
                rss.append(_rss_kib(pid))
                stop.wait(5)

        def read() -> None:
            while not stop.is_set():
                result = daemon.cli("get", "deployments", timeout=60)
                reads["ok" if result.returncode == 0 else "failed"] += 1

        threads = [threading.Thread(target=sample), threading.Thread(target=read)]
        for thread in threads:
            thread.start()
        rng = random.Random(args.seed)
        end = time.monotonic() + args.minutes * 60
        next_edit = time.monotonic()
        while time.monotonic() < end:
            name = rng.choice(names)
            images[name] += 1
            write_atomically(folder / f"{name}.yaml", _deployment(name, images[name], token))
            edits += 1
            next_edit += args.interval
            time.sleep(max(0.0, next_edit - time.monotonic()))
        print(f"{edits} edits written; waiting for the daemon to converge", flush=True)
        want = {name: f"sleeper:{n}" for name, n in images.items()}
        converge_started = time.monotonic()
        wait_for(lambda: running() == want, timeout=600, interval=1, what="converged")
        converge = time.monotonic() - converge_started
        stop.set()
        for thread in threads:
            thread.join()
        with sqlite3.connect(tmp / "state" / "state.db") as db:
            events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            replicasets = db.execute("SELECT COUNT(*) FROM replicasets").fetchone()[0]
        missed = sorted(n for n in names if running().get(n) != want[n])
        return {
            "deployments": len(names),
            "interval_s": args.interval,
            "minutes": args.minutes,
            "edits": edits,
            "converged_after_s": round(converge, 1),
            "missed_changes": len(missed),
            "cli_reads_ok": reads["ok"],
            "cli_reads_failed": reads["failed"],
            "rss_kib_first_last_max": [rss[0], rss[-1], max(rss)] if rss else [],
            "rss_samples": len(rss),
            "events_rows": events,
            "replicaset_rows": replicasets,
            "state_dir_bytes": _dir_bytes(tmp / "state"),
            "daemon_log_bytes": daemon.log.stat().st_size,
            "daemon_alive": daemon.proc.poll() is None,
        }
    finally:
        stop.set()
        _cleanup(daemon, token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("crash")
    c.add_argument("--iterations", type=int, default=50)
    c.add_argument("--seed", type=int, default=20240807)
    c.set_defaults(func=crash)
    ld = sub.add_parser("load")
    ld.add_argument("--deployments", type=int, default=300)
    ld.add_argument("--interval", type=float, default=0.1)
    ld.add_argument("--minutes", type=float, default=10)
    ld.add_argument("--seed", type=int, default=1)
    ld.set_defaults(func=load)
    args = parser.parse_args()
    print(json.dumps(args.func(args), indent=2), flush=True)


if __name__ == "__main__":
    main()
