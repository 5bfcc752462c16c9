"""Zero downtime, measured (issue 6): 200 requests/s through a Service during each strategy.

Run on demand:

    python bench/traffic/bench_zero_downtime.py

For RollingUpdate, BlueGreen (switch on promote) and Canary (every step, then promote --full)
of a 3-replica HTTP deployment, a real daemon runs on a temporary folder and a load generator
holds 200 requests/s through the Service — once with a new connection per request, once on
keep-alive connections — from before the change until after the rollout is complete. It prints
requests served and failed per case (expected failures: 0).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.fspath(ROOT))

from tests.e2e.harness import DaemonProcess, deployment_yaml, wait_for  # noqa: E402
from tests.e2e.load import Load, fetch_version  # noqa: E402

STRATEGIES = {
    "RollingUpdate": """
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}""",
    "BlueGreen": """
  strategy:
    type: BlueGreen
    blueGreen: {activeService: web, autoPromotionEnabled: false, scaleDownDelaySeconds: 2}""",
    "Canary": """
  strategy:
    type: Canary
    canary:
      steps:
        - setWeight: 34
        - pause: {duration: 2s}
        - setWeight: 67
        - pause: {}""",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manifest(strategy: str, image: str, port: int) -> str:
    return deployment_yaml("web", image=image, replicas=3, strategy=STRATEGIES[strategy]) + f"""---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


def phase(daemon: DaemonProcess) -> str:
    return str(daemon.status("web").get("rollout", {}).get("phase", ""))


def run_case(strategy: str, keepalive: bool) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-zd-"))
    folder = work / "manifests"
    folder.mkdir()
    port = free_port()
    path = folder / "web.yaml"
    path.write_text(manifest(strategy, "demo:1", port))
    daemon = DaemonProcess(folder, work / "state").start()
    try:
        wait_for(lambda: phase(daemon) == "Healthy", timeout=60, what="v1")
        wait_for(lambda: fetch_version(port) == "1", what="service")
        only_v2: Callable[[], bool] = lambda: phase(daemon) == "Healthy" and {  # noqa: E731
            c.image for p in daemon.pods() if not p.terminating for c in p.containers
        } == {"demo:2"}
        started = time.monotonic()
        with Load(port, keepalive=keepalive, rate=200) as load:
            time.sleep(1)
            path.write_text(manifest(strategy, "demo:2", port))
            if strategy != "RollingUpdate":
                wait_for(lambda: phase(daemon) == "Paused", timeout=60, what="paused")
                daemon.cli("rollout", "promote", "web", "--full")
            wait_for(only_v2, timeout=120, what="v2")
            time.sleep(1)
        return {
            "strategy": strategy,
            "connections": "keep-alive" if keepalive else "new per request",
            "seconds": round(time.monotonic() - started, 1),
            "served": load.result.ok,
            "failed": len(load.result.failures),
            "versions": dict(load.result.versions),
            "first_failures": load.result.failures[:3],
        }
    finally:
        daemon.stop()
        daemon.down()  # pods outlive the daemon
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    for strategy in STRATEGIES:
        for keepalive in (False, True):
            print(json.dumps(run_case(strategy, keepalive)), flush=True)


if __name__ == "__main__":
    main()
