"""Benchmark the process runtime: 200 pods started, probed, idle and stopped.

Why: rollouts are only as fast as pods become Ready and go away, and a host runs many pods, so
the supervisor must stay cheap while they idle. Measures, per pod, start request → Running,
→ Ready (tcpSocket readiness probe) and stop request → gone (median, p99), and the daemon's
CPU and memory while 200 pods sit idle with periodic probes.

Run from the repo root: ``python bench/runtime/bench_runtime.py [--pods 200] [--command c|python]``.
``c`` compiles ``listener.c`` (needs ``cc``) so the pod's own start-up is ~1 ms and the
figures show the supervisor; ``python`` uses a Python one-liner (its ~20-40 ms interpreter
start-up is then part of start → Ready).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.defaults import default_pod_template
from reconciler.log import configure
from reconciler.runtime import PodSpec, PodStatus
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone

HERE = Path(__file__).parent
PY_LISTENER = (
    "import os, socket, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen()\n"
    "while True: s.accept()[0].close()\n"
)


def command(kind: str, work: Path) -> list[str]:
    if kind == "c":
        binary = work / "listener"
        subprocess.run(["cc", "-O2", "-o", str(binary), str(HERE / "listener.c")], check=True)
        return [str(binary)]
    return [sys.executable, "-S", "-c", PY_LISTENER]


def spec(name: str, argv: list[str], *, delay: float, period: float, base: Path) -> PodSpec:
    template = default_pod_template(
        {
            "metadata": {"labels": {"app": "bench"}},
            "spec": {
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {
                        "name": "app",
                        "image": "bench:1",
                        "command": argv,
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "readinessProbe": {
                            "tcpSocket": {"port": "http"},
                            "initialDelaySeconds": delay,
                            "periodSeconds": period,
                        },
                    }
                ],
            },
        }
    )
    return PodSpec(name, "default", "bench-1", {"app": "bench"}, template, base)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(pods: int, kind: str, delay: float, period: float, idle: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    argv = command(kind, work)
    runtime = ProcessRuntime(work / "state")
    await runtime.start()
    events: dict[str, dict[str, float]] = {}

    def on_change(status: PodStatus) -> None:
        seen = events.setdefault(status.name, {})
        now = time.perf_counter()
        if status.containers[0].state == "Running":
            seen.setdefault("running", now)
        if status.ready:
            seen.setdefault("ready", now)
        if status.gone:
            seen.setdefault("gone", now)

    runtime.subscribe(on_change)
    await asyncio.sleep(0.2)
    rss_before = rss_kib()
    requested: dict[str, float] = {}
    for i in range(pods):  # one at a time: per-pod latency without queueing behind the others
        name = f"bench-{i:03d}"
        requested[name] = time.perf_counter()
        await runtime.start_pod(spec(name, argv, delay=delay, period=period, base=work))
        while "ready" not in events.get(name, {}):
            await asyncio.sleep(0.001)
    to_running = [(events[n]["running"] - t) * 1000 for n, t in requested.items()]
    to_ready = [(events[n]["ready"] - t) * 1000 for n, t in requested.items()]

    await asyncio.sleep(1.0)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    await asyncio.sleep(idle)
    idle_cpu = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0) * 100
    rss_with_pods = rss_kib()

    stopped: dict[str, float] = {}
    for name in requested:
        stopped[name] = time.perf_counter()
        await runtime.stop_pod(name)
        await wait_gone(runtime, name)
    to_gone = [(events[n]["gone"] - t) * 1000 for n, t in stopped.items()]

    # a burst: every pod requested at once (a Recreate of 200 replicas)
    burst_start = time.perf_counter()
    for i in range(pods):
        await runtime.start_pod(spec(f"burst-{i:03d}", argv, delay=delay, period=period, base=work))
    while sum(p.ready for p in runtime.pods()) < pods:
        await asyncio.sleep(0.005)
    burst_ready = time.perf_counter() - burst_start
    burst_restarts = sum(p.restarts for p in runtime.pods())
    burst_stop = time.perf_counter()
    await runtime.close()
    burst_gone = time.perf_counter() - burst_stop
    shutil.rmtree(work, ignore_errors=True)
    return {
        "pods": pods,
        "running_median_ms": statistics.median(to_running),
        "running_p99_ms": pct(to_running, 0.99),
        "ready_median_ms": statistics.median(to_ready),
        "ready_p99_ms": pct(to_ready, 0.99),
        "ready_minus_initial_delay_median_ms": statistics.median(to_ready) - delay * 1000,
        "stop_median_ms": statistics.median(to_gone),
        "stop_p99_ms": pct(to_gone, 0.99),
        "idle_cpu_percent_of_one_core": idle_cpu,
        "idle_seconds": idle,
        "probe_period_s": period,
        "rss_per_pod_kib": (rss_with_pods - rss_before) / pods,
        "rss_total_mib": rss_with_pods / 1024,
        "burst_all_ready_s": burst_ready,
        "burst_all_gone_s": burst_gone,
        "burst_restarts": burst_restarts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--command", choices=["c", "python"], default="c")
    parser.add_argument("--initial-delay", type=float, default=0.02)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    configure("warning")
    result = asyncio.run(run(args.pods, args.command, args.initial_delay, args.period, args.idle))
    print(json.dumps({k: round(v, 2) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
