"""ConfigMap and Secret benchmarks (issue 14): a ConfigMap edit's reaction time against a
template edit's, and 300 deployments each referencing a ConfigMap and a Secret at steady state.

Run on demand, not in CI:

    python bench/daemon/bench_config.py [reaction|scale|all] [--saves N] [--deployments N]

- reaction: one Deployment whose env comes from a ConfigMap (``envFrom``) and a Secret
  (``secretKeyRef``); alternately save a new template (image) and a new ConfigMap value, N
  times each; time from the file's rename to the daemon's ``pod_started`` line for the first pod
  of the new revision (median, p99 of each).
- scale: N deployments × 2 ``sleep`` pods, each with its own ConfigMap and Secret in its file
  (3 N objects), from an empty state until all are Available, then the daemon's CPU share and
  RSS over 20 s of steady state (compare with ``bench_daemon.py scale``, the same without them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_daemon import (
    Daemon,
    _cpu_seconds,
    _rss_mb,
    complete,
    percentile,
    save,
    ts,
    wait,
)

from reconciler.objects import Kind
from reconciler.store import Store


def manifests(name: str, *, image: str, value: str, replicas: int = 1) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}-config}}
data:
  GREETING: {value}
---
apiVersion: v1
kind: Secret
metadata: {{name: {name}-secret}}
stringData:
  password: pw-{name}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: {image}
          command: ["sleep", "3600"]
          envFrom:
            - configMapRef: {{name: {name}-config}}
          env:
            - name: PASSWORD
              valueFrom: {{secretKeyRef: {{name: {name}-secret, key: password}}}}
"""


def reaction(work: Path, saves: int) -> dict[str, Any]:
    daemon = Daemon(work)
    path = daemon.folder / "web.yaml"
    save(path, manifests("web", image="demo:0", value="v0"))
    daemon.start()
    delays: dict[str, list[float]] = {"template": [], "configmap": []}
    try:
        wait(lambda: complete(daemon.status("web"), 1), 30)
        image, value = 0, 0
        for i in range(2 * saves):
            kind = "template" if i % 2 == 0 else "configmap"
            if kind == "template":
                image += 1
            else:
                value += 1
            before = len(daemon.events("pod_started"))
            at = save(path, manifests("web", image=f"demo:{image}", value=f"v{value}"))
            wait(lambda n=before: len(daemon.events("pod_started")) > n, 10, 0.005)
            started = [e for e in daemon.events("pod_started") if e.get("component") == "executor"]
            delays[kind].append(ts(started[-1]) - at)
            wait(lambda: complete(daemon.status("web"), 1), 30)
        causes = [e.get("change_cause") for e in daemon.events("revision_recorded")]
        return {
            "saves_each": saves,
            "template_median_ms": statistics.median(delays["template"]) * 1000,
            "template_p99_ms": percentile(delays["template"], 99) * 1000,
            "configmap_median_ms": statistics.median(delays["configmap"]) * 1000,
            "configmap_p99_ms": percentile(delays["configmap"], 99) * 1000,
            "configmap_causes": sum(1 for c in causes if c == "configmap/web-config changed"),
        }
    finally:
        daemon.stop()


def scale(work: Path, count: int) -> dict[str, float]:
    daemon = Daemon(work)
    for i in range(count):
        name = f"d{i:03}"
        save(daemon.folder / f"{name}.yaml", manifests(name, image="demo:1", value="x", replicas=2))
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

        wait(all_available, 900, 0.5)
        took = time.time() - started
        assert daemon.proc is not None
        pid = daemon.proc.pid
        time.sleep(5)
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(20)
        cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
        return {
            "deployments": count,
            "objects": 3 * count,
            "pods": 2 * count,
            "all_available_s": took,
            "steady_cpu_pct": cpu,
            "daemon_rss_mb": _rss_mb(pid),
        }
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="all", choices=["reaction", "scale", "all"])
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=300)
    args = parser.parse_args()
    for name in ["reaction", "scale"]:
        if args.scenario not in (name, "all"):
            continue
        work = Path(tempfile.mkdtemp(prefix=f"bench-config-{name}-"))
        try:
            result = (
                reaction(work, args.saves) if name == "reaction" else scale(work, args.deployments)
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
        print(name, json.dumps(rounded), flush=True)


if __name__ == "__main__":
    main()
