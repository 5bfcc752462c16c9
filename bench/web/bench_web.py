"""bench/web: the web server's costs with 300 deployments x 2 pods (issue #19's budgets).

    python bench/web/bench_web.py [--deployments 300] [--scrapes 30] [--events 20] [--scrape-only]

Measures, on a store filled through the project's own code (300 manifests synced by
``FolderSync``, a revision and a ReplicaSet of 2 pods each, 600 pod records, 300 Services with
proxy counters):

1. ``/metrics``: the time of one scrape (store read + exposition), median and max of N, and
   the CPU share of one scrape every 15 s;
2. the dashboard in headless Chromium: time from navigation to the first render of all 300
   deployments;
3. event latency: an event written to the store (as the daemon writes it) until the open page
   has it, median / p95 / max of N.

Budgets: scrape < 50 ms, first render < 1 s, event < 500 ms. Figures go into bench/README.md.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from reconciler.folder.sync import FolderSync  # noqa: E402
from reconciler.objects import Kind, ObjectRef  # noqa: E402
from reconciler.proxy import GroupStats, ListenerStats  # noqa: E402
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus  # noqa: E402
from reconciler.store import PodRecord, Store, pod_to_dict  # noqa: E402
from reconciler.web.api import ApiContext, build_app  # noqa: E402
from reconciler.web.events import Hub  # noqa: E402
from reconciler.web.metrics import Live, Metrics  # noqa: E402
from reconciler.web.observer import Observer  # noqa: E402

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i:03d}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i:03d}}}}}
  template:
    metadata: {{labels: {{app: app-{i:03d}}}}}
    spec:
      containers:
        - name: app
          image: demo:{i}
          command: ["python3", "-m", "reconciler.demoapp"]
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: /healthz, port: http}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i:03d}}}
spec:
  selector: {{app: app-{i:03d}}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


def fill(state: Path, folder: Path, n: int) -> Store:
    """A store as a daemon running ``n`` healthy deployments of 2 pods would leave it."""
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"app-{i:03d}.yaml").write_text(MANIFEST.format(i=i, port=20000 + i))
    store = Store.open(state)
    now = time.time()
    FolderSync(store, folder).sync(now=now)
    records = []
    for obj in store.list_objects(Kind.DEPLOYMENT):
        rs = store.record_revision(
            obj.ref, obj.spec["spec"]["template"], change_cause="bench", now=now
        ).replicaset
        counts = {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
        store.set_replicaset(obj.ref.namespace, rs.name, replicas=2, status=counts)
        conditions = [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{rs.name}" has successfully progressed.',
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ]
        store.set_status(
            obj.ref,
            {
                "observedGeneration": 1,
                **counts,
                "updatedReplicas": 2,
                "unavailableReplicas": 0,
                "conditions": conditions,
                "rollout": {
                    "phase": "Healthy",
                    "currentPodHash": rs.hash,
                    "stableRS": rs.hash,
                    "strategy": "RollingUpdate",
                    "message": "",
                },
            },
        )
        image = obj.spec["spec"]["template"]["spec"]["containers"][0]["image"]
        for k in range(2):
            pod = PodStatus(
                name=f"{rs.name}-p{k:04d}",
                namespace="default",
                owner=rs.name,
                labels={"app": obj.ref.name},
                phase=PodPhase.RUNNING,
                created_at=now,
                containers=(
                    ContainerStatus(
                        "app", image, ContainerState.RUNNING, ready=True, started_at=now
                    ),
                ),
                ready=True,
                ready_since=now,
                ports={"http": 30000 + len(records)},
            )
            records.append(
                PodRecord(pod.name, "default", rs.name, obj.ref.name, pod_to_dict(pod), now, now)
            )
    store.replace_pods(records)
    return store


def proxy_stats(n: int) -> dict[str, list[ListenerStats]]:
    return {
        f"default/app-{i:03d}": [
            ListenerStats(
                f"default/app-{i:03d}",
                "http",
                groups=(
                    GroupStats(
                        "all", total=1000 + i, active=i % 5, bytes_in=10_000, bytes_out=90_000
                    ),
                ),
            )
        ]
        for i in range(n)
    }


def bench_scrape(
    store_dir: Path, n: int, scrapes: int
) -> tuple[float, dict[str, dict[str, list[float]]]]:
    """The first scrape (everything read), then scrapes after: nothing committed; every pod
    flushed again unchanged and the heartbeat written (what an idle daemon commits); 10
    deployments' statuses written (as a pass writes them, on the daemon's own connection).
    Wall and CPU seconds (the machine is shared: CPU time is what a scrape costs, wall time
    what a scraper waits)."""
    store, daemon = Store.open(store_dir), Store.open(store_dir)
    stats, metrics = proxy_stats(n), Metrics(Live())
    started = time.perf_counter()
    body = metrics.render(store, stats=stats)
    cold = time.perf_counter() - started
    objects = daemon.list_objects(Kind.DEPLOYMENT)
    pods = daemon.list_pods()
    cases = ("nothing committed", "pods flushed unchanged", "10 deployments changed")
    times: dict[str, dict[str, list[float]]] = {c: {"wall": [], "cpu": []} for c in cases}

    def timed(into: dict[str, list[float]]) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        metrics.render(store, stats=stats)
        into["wall"].append(time.perf_counter() - wall)
        into["cpu"].append(time.thread_time() - cpu)

    for i in range(scrapes):
        timed(times[cases[0]])
        daemon.replace_pods(pods)
        daemon.set_meta("bench-heartbeat", str(i))
        timed(times[cases[1]])
        for obj in objects[i * 10 % n : i * 10 % n + 10]:
            daemon.set_status(obj.ref, {**obj.status, "observedGeneration": i + 2})
        timed(times[cases[2]])
    store.close()
    daemon.close()
    samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    print(f"/metrics: {len(body) / 1024:.0f} KiB, {samples} samples")
    return cold, times


async def serve(state: Path, n: int) -> tuple[web.AppRunner, Observer, str]:
    observer = Observer(
        state_dir=state, daemon_store=Store.open(state), hub=Hub(), notifier=None, live=Live()
    )
    await observer.start()
    ctx = ApiContext(
        token="bench-token-0123456789abcdef",
        loopback=True,
        state_dir=state,
        manifests=state,
        observer=observer,
        hub=observer.hub,
        live=observer.live,
        metrics=Metrics(observer.live),
        proxy_stats=lambda: proxy_stats(n),
        analysis_failures=lambda r, h: 0,
        ready=lambda: True,
    )
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, observer, f"http://127.0.0.1:{port}"


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def bench_page(url: str, state: Path, n: int, events: int) -> tuple[list[float], list[float]]:
    """First render (s) of several page loads, and event latencies (s)."""
    driver = browser()
    renders, latencies = [], []
    writer = Store.open(state)
    try:
        for _ in range(5):
            driver.get(url + "/?" + str(time.time()))
            deadline = time.time() + 30
            while time.time() < deadline:
                at = driver.execute_script(
                    "const s = window.reconcilerDashboard; return s && s.stats.firstRenderAt"
                )
                if at:
                    break
                time.sleep(0.02)
            cards = driver.execute_script("return document.querySelectorAll('.dep').length")
            assert cards == n, cards
            renders.append(float(at) / 1000)
        driver.execute_script("return 1")
        time.sleep(1.0)  # the stream is open
        ref = ObjectRef(Kind.DEPLOYMENT, "default", "app-000")
        for i in range(events):
            before = driver.execute_script("return window.reconcilerDashboard.stats.events")
            written = time.time()
            writer.add_event(
                ref, type="Normal", reason="BenchEvent", message=f"event {i}", now=written
            )
            deadline = time.time() + 10
            while time.time() < deadline:
                seen = driver.execute_script(
                    "const s = window.reconcilerDashboard.stats; return [s.events, s.lastEventAt]"
                )
                if seen[0] > before:
                    latencies.append(seen[1] / 1000 - written)
                    break
                time.sleep(0.005)
            time.sleep(0.3)
    finally:
        writer.close()
        driver.quit()
    return renders, latencies


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return (
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {values[-1] * 1000:.0f} ms (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--scrape-only", action="store_true", help="skip the browser parts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state, folder = Path(tmp) / "state", Path(tmp) / "manifests"
        fill(state, folder, args.deployments).close()
        cold, times = bench_scrape(state, args.deployments, args.scrapes)
        print(f"scrape, first (everything read): {cold * 1000:.0f} ms")
        for what, measured in times.items():
            print(f"scrape, {what}: wall {ms(measured['wall'])}; CPU {ms(measured['cpu'])}")
        busy = times["10 deployments changed"]
        print(
            f"CPU at one scrape per 15 s: {statistics.median(busy['cpu']) / 15 * 100:.3f}% "
            "of one core"
        )
        if args.scrape_only:
            return

        async def pages() -> None:
            runner, observer, url = await serve(state, args.deployments)
            try:
                loop = asyncio.get_running_loop()
                renders, latencies = await loop.run_in_executor(
                    None, bench_page, url, state, args.deployments, args.events
                )
            finally:
                await runner.cleanup()
                await observer.close()
            print(f"first render of {args.deployments} deployments: {ms(renders)}")
            print(f"event to open page: {ms(latencies)}")

        asyncio.run(pages())


if __name__ == "__main__":
    main()
