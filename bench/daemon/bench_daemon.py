"""Daemon benchmarks (issue 5): reaction time, rollout overhead, and 300 deployments at scale.

Run on demand, not in CI:

    python bench/daemon/bench_daemon.py [reaction|rollout|scale|all] [--saves N] [--deployments N]

Each scenario starts a real ``reconciler run`` in a child process on a temporary folder and
state directory, and reads what happened from the daemon's JSON log and the store.

- reaction: save a new template 50 times; time from the file's rename to the daemon's
  ``pod_started`` log line for the first pod of the new revision (median, p99). With
  ``--in-place`` the file is written in place instead, timed from its close.
- rollout: 10 replicas, maxSurge 1, maxUnavailable 0, a pod that becomes Ready 0.5 s after
  its container starts (exec probe, ``initialDelaySeconds: 0.5``, every 0.05 s); time from save
  to complete, against the ideal 10 × 0.5 s.
- scale: 300 deployments × 2 replicas of ``sleep`` from an empty state: time until all are
  Available, then the daemon's CPU share and RSS over 20 s of steady state.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.fspath(ROOT))

from reconciler.objects import Kind, ObjectRef  # noqa: E402
from reconciler.store import Store  # noqa: E402


def deployment(
    name: str, *, image: str, replicas: int, extra: str = "", container: str = ""
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}{extra}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: {image}
{container}"""


SLEEP = '          command: ["sleep", "3600"]\n'
# Ready exactly 0.5 s after the container starts: an exec probe that always passes, first run
# after initialDelaySeconds (a Python app's own start-up time would blur what is measured).
READY_AFTER_HALF_SECOND = """          command: ["sleep", "3600"]
          readinessProbe:
            exec: {command: ["true"]}
            initialDelaySeconds: 0.5
            periodSeconds: 0.05
"""


def save(path: Path, text: str) -> float:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    at = time.time()
    tmp.replace(path)
    return at


class Daemon:
    def __init__(self, work: Path) -> None:
        self.folder = work / "manifests"
        self.state = work / "state"
        self.log = work / "daemon.log"
        self.folder.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "run",
                    os.fspath(self.folder),
                    "--state-dir",
                    os.fspath(self.state),
                    "--log-format",
                    "json",
                    "--http",
                    "off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        wait(lambda: "daemon_started" in self.log.read_text(), 60)

    def stop(self) -> None:
        """SIGTERM the daemon, then ``reconciler down``: the pods outlive the daemon."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(120)
        subprocess.run(
            [sys.executable, "-m", "reconciler", "down", "--state-dir", os.fspath(self.state)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            if f'"{name}"' in line:
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def status(self, name: str) -> dict[str, Any]:
        store = Store.open(self.state)
        try:
            obj = store.get_object(ObjectRef(Kind.DEPLOYMENT, "default", name))
            return dict(obj.status) if obj else {}
        finally:
            store.close()


def wait(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("benchmark condition not reached")


def complete(status: dict[str, Any], replicas: int) -> bool:
    conditions = {c["type"]: c for c in status.get("conditions", [])}
    return (
        status.get("updatedReplicas") == replicas
        and status.get("availableReplicas") == replicas
        and status.get("replicas") == replicas
        and conditions.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable"
    )


def ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def save_in_place(path: Path, text: str) -> float:
    """An editor that writes the file itself (``:w`` with backupcopy=yes): the write is
    complete, and the daemon may act, at the close."""
    with open(path, "w") as out:
        out.write(text)
    return time.time()


def reaction(work: Path, saves: int, *, in_place: bool = False) -> dict[str, float]:
    daemon = Daemon(work)
    path = daemon.folder / "web.yaml"
    save(path, deployment("web", image="demo:0", replicas=1, container=SLEEP))
    write = save_in_place if in_place else save
    daemon.start()
    try:
        wait(lambda: complete(daemon.status("web"), 1), 30)
        delays = []
        for i in range(1, saves + 1):
            before = len(daemon.events("pod_started"))
            at = write(path, deployment("web", image=f"demo:{i}", replicas=1, container=SLEEP))
            wait(lambda n=before: len(daemon.events("pod_started")) > n, 10, 0.005)
            started = [e for e in daemon.events("pod_started") if e.get("component") == "executor"]
            delays.append(ts(started[-1]) - at)
            wait(lambda: complete(daemon.status("web"), 1), 30)
        return {
            "saves": saves,
            "median_ms": statistics.median(delays) * 1000,
            "p99_ms": percentile(delays, 99) * 1000,
        }
    finally:
        daemon.stop()


def rollout(work: Path) -> dict[str, float]:
    daemon = Daemon(work)
    path = daemon.folder / "web.yaml"
    strategy = """
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}"""
    save(
        path,
        deployment(
            "web", image="demo:1", replicas=10, extra=strategy, container=READY_AFTER_HALF_SECOND
        ),
    )
    daemon.start()
    try:
        wait(lambda: complete(daemon.status("web"), 10), 60)
        at = save(
            path,
            deployment(
                "web",
                image="demo:2",
                replicas=10,
                extra=strategy,
                container=READY_AFTER_HALF_SECOND,
            ),
        )
        wait(
            lambda: (
                complete(daemon.status("web"), 10)
                and daemon.status("web").get("observedGeneration", 0) >= 2
            ),
            120,
        )
        took = time.time() - at
        return {"total_s": took, "ideal_s": 5.0, "overhead_pct": (took / 5.0 - 1) * 100}
    finally:
        daemon.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scale(work: Path, count: int) -> dict[str, float]:
    daemon = Daemon(work)
    for i in range(count):
        save(
            daemon.folder / f"d{i:03}.yaml",
            deployment(f"d{i:03}", image="demo:1", replicas=2, container=SLEEP),
        )
    started = time.time()
    daemon.start()
    try:

        def all_available() -> bool:
            store = Store.open(daemon.state)
            try:
                objs = store.list_objects(Kind.DEPLOYMENT)
                return len(objs) == count and all(
                    o.status.get("availableReplicas") == 2 for o in objs
                )
            finally:
                store.close()

        wait(all_available, 600, 0.5)
        took = time.time() - started
        assert daemon.proc is not None
        pid = daemon.proc.pid
        time.sleep(5)
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(20)
        cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
        return {
            "deployments": count,
            "pods": 2 * count,
            "all_available_s": took,
            "steady_cpu_pct": cpu,
            "daemon_rss_mb": _rss_mb(pid),
        }
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "scenario", nargs="?", default="all", choices=["reaction", "rollout", "scale", "all"]
    )
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument(
        "--in-place", action="store_true", help="reaction: write the file in place, not rename"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in ["reaction", "rollout", "scale"]:
        if args.scenario not in (name, "all"):
            continue
        work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            if name == "reaction":
                results[name] = reaction(work, args.saves, in_place=args.in_place)
            elif name == "rollout":
                results[name] = rollout(work)
            else:
                results[name] = scale(work, args.deployments)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(
            name,
            json.dumps(
                {k: round(v, 2) if isinstance(v, float) else v for k, v in results[name].items()}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
