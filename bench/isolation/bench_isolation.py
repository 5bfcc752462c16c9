"""What isolation costs a pod: start → the command runs, and stop → gone, per variant.

Variants: plain (no wrapper), limits only (a cgroup per container; the exec wrapper joins it),
and limits plus a configMap and an emptyDir at mountPaths the host lacks (a private mount
namespace, the parent shadowed). Each pod is started alone and awaited until its command has
run (it touches a file, then sleeps), then stopped alone and awaited until gone.

    python bench/isolation/bench_isolation.py [--pods 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))

from isolation_helpers import isolated_pod

from reconciler.runtime import PodConfig
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone

CONFIG = PodConfig(config_maps={"app": {"app.conf": b"color=blue\n"}})


def variant(name: str, marker: Path) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": "app:1",
        "command": ["/bin/sh", "-c", f"touch {marker}; exec sleep 60"],
    }
    volumes: list[dict[str, Any]] = []
    if name != "plain":
        container["resources"] = {"limits": {"memory": "64Mi", "cpu": "500m"}}
    if name == "limits+volumes":
        container["volumeMounts"] = [
            {"name": "config", "mountPath": "/etc/bench-config"},
            {"name": "scratch", "mountPath": "/bench-scratch"},
        ]
        volumes = [
            {"name": "config", "configMap": {"name": "app"}},
            {"name": "scratch", "emptyDir": {}},
        ]
    return {"container": container, "volumes": volumes}


async def wait(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("a pod's command did not run within 30 s: see the runtime's log")
        await asyncio.sleep(0.0005)


async def measure(state: Path, work: Path, name: str, pods: int) -> tuple[list[float], list[float]]:
    runtime = ProcessRuntime(state)
    await runtime.start()
    starts, stops = [], []
    try:
        for index in range(pods):
            marker = work / f"{name}-{index}"
            parts = variant(name, marker)
            spec = isolated_pod(
                f"bench-{index}",
                parts["container"],
                base_dir=work,
                volumes=parts["volumes"],
                config=CONFIG,
                grace=2,
            )
            t0 = time.perf_counter()
            await runtime.start_pod(spec)
            await wait(marker.exists)
            starts.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await runtime.stop_pod(spec.name)
            await wait_gone(runtime, spec.name)
            stops.append(time.perf_counter() - t0)
    finally:
        await runtime.close()
    return starts, stops


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=30)
    args = parser.parse_args()
    print("| variant | start → command runs, median / p95 | stop → gone, median / p95 |")
    print("|---|---|---|")
    for name in ("plain", "limits", "limits+volumes"):
        with tempfile.TemporaryDirectory() as tmp:
            state, work = Path(tmp) / "state", Path(tmp) / "work"
            state.mkdir(mode=0o700)
            work.mkdir()
            starts, stops = asyncio.run(measure(state, work, name, args.pods))
        print(
            f"| {name} | {statistics.median(starts) * 1000:.1f} / {ms(starts, 0.95)} ms "
            f"| {statistics.median(stops) * 1000:.1f} / {ms(stops, 0.95)} ms |"
        )


if __name__ == "__main__":
    main()
