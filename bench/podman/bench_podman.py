"""Benchmark the podman runtime, and side by side with ``podman kube play``.

Why: a podman pod must become Ready about as fast as podman itself runs a container (start →
Ready, median < 1 s, p99 < 2 s for a 2 MB local image), many container pods must cost the daemon
next to nothing while they idle (50 pods: < 2 % of a core, < 150 MB RSS), and the peer a podman
user would pick for Kubernetes YAML, ``podman kube play``, is the bar for bringing replicas up
and for updating an image without failed requests.

Run from the repo root (root, podman, runc and busybox-static installed)::

    python bench/podman/bench_podman.py start  [--pods 30]
    python bench/podman/bench_podman.py idle   [--pods 50 --seconds 30 --period 10]
    python bench/podman/bench_podman.py peer   [--replicas 10 --rate 100]

Every image, pod and container it makes carries the label ``io.reconciler.bench`` and is removed
at the end, as are its daemons.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reconciler.defaults import default_pod_template  # noqa: E402
from reconciler.log import configure  # noqa: E402
from reconciler.runtime import PodSpec, PodStatus  # noqa: E402
from reconciler.runtime.podman import PodmanRuntime, stop_all  # noqa: E402
from reconciler.runtime.podman.host import configure as configure_podman  # noqa: E402
from reconciler.runtime.waiting import wait_gone  # noqa: E402
from tests.e2e.harness import DaemonProcess, wait_for  # noqa: E402
from tests.e2e.load import Load  # noqa: E402

LABEL = "io.reconciler.bench"
RUN = uuid.uuid4().hex[:8]
HTTPD = '["/bin/sh", "-c", "trap \\"exit 0\\" TERM; httpd -f -p 80 -h /www & wait"]'


def podman(env: dict[str, str], *args: str, check: bool = True) -> str:
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"podman {' '.join(args)}: {result.stderr}")
    return result.stdout


def build_image(env: dict[str, str], work: Path, ref: str, page: str) -> None:
    """A ~2 MB image: busybox-static with a page; CMD ``busybox httpd`` on port 80."""
    root = work / f"rootfs-{uuid.uuid4().hex[:6]}"
    (root / "bin").mkdir(parents=True)
    (root / "www").mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "httpd"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "www" / "index.html").write_text(page)
    archive = root.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    podman(
        env,
        "import",
        "--change",
        f"CMD {HTTPD}",
        "--change",
        f"LABEL {LABEL}={RUN}",
        "--change",
        "ENV PATH=/bin",
        str(archive),
        ref,
    )


def cleanup(env: dict[str, str]) -> None:
    pods = podman(env, "pod", "ps", "-q", "--filter", f"label={LABEL}={RUN}", check=False)
    if pods.split():
        podman(env, "pod", "rm", "-f", "--time", "0", *pods.split(), check=False)
    images = podman(env, "images", "-q", "--filter", f"label={LABEL}={RUN}", check=False)
    if images.split():
        podman(env, "rmi", "-f", *sorted(set(images.split())), check=False)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- start → Ready ---------------------------------------------------------------------------


async def start_to_ready(state: Path, image: str, pods: int) -> list[float]:
    runtime = PodmanRuntime(state)
    await runtime.start()
    ready_at: dict[str, float] = {}
    events: dict[str, asyncio.Event] = {}

    def seen(status: PodStatus) -> None:
        if status.ready and status.name not in ready_at:
            ready_at[status.name] = time.monotonic()
            events[status.name].set()

    runtime.subscribe(seen)
    template = default_pod_template(
        {
            "metadata": {"labels": {"app": "bench"}},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 0.05},
                    }
                ],
            },
        }
    )
    times = []
    try:
        for index in range(pods):
            name = f"bench-{RUN}-{index}"
            events[name] = asyncio.Event()
            labels = {"app": "bench"}
            started = time.monotonic()
            await runtime.start_pod(PodSpec(name, "default", "bench-rs", labels, template, state))
            await asyncio.wait_for(events[name].wait(), 30)
            times.append(ready_at[name] - started)
            await runtime.stop_pod(name)
            await wait_gone(runtime, name)
    finally:
        await runtime.close()
    return times


def bench_start(args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    image = f"localhost/rc-bench-{RUN}/web:v1"
    build_image(env, work, image, "bench v1\n")
    run_times = []
    for _ in range(10):
        started = time.monotonic()
        podman(env, "run", "-d", "--rm", "--label", f"{LABEL}={RUN}", "--name", f"b-{RUN}", image)
        run_times.append(time.monotonic() - started)
        podman(env, "rm", "-f", "--time", "0", f"b-{RUN}")
    pod_times = []
    for index in range(10):
        started = time.monotonic()
        podman(
            env,
            *("run", "-d", "--pod", f"new:bp-{RUN}-{index}", "--label", f"{LABEL}={RUN}"),
            *("--publish", f"127.0.0.1:{free_port()}:80", image),
        )
        pod_times.append(time.monotonic() - started)
        podman(env, "pod", "rm", "-f", "--time", "0", f"bp-{RUN}-{index}")
    times = asyncio.run(start_to_ready(work / "state", image, args.pods))
    print(f"podman run -d (baseline, n=10): median {statistics.median(run_times):.3f} s")
    print(
        "podman run -d --pod new: --publish (a pod with a port, as ours; n=10): "
        f"median {statistics.median(pod_times):.3f} s"
    )
    print(
        f"start -> Ready (n={len(times)}): median {statistics.median(times):.3f} s, "
        f"p99 {pct(times, 0.99):.3f} s, max {max(times):.3f} s"
    )


# -- adoption --------------------------------------------------------------------------------


async def adoption_times(state: Path, image: str, pods: int, rounds: int) -> list[float]:
    """Start ``pods`` pods, then ``rounds`` times: detach, and time a new runtime's start
    (adoption included) until every pod is back in ``pods()`` Ready."""
    template = default_pod_template(
        {
            "metadata": {"labels": {"app": "bench"}},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                    }
                ],
            },
        }
    )
    runtime = PodmanRuntime(state)
    await runtime.start()
    for index in range(pods):
        spec = PodSpec(f"adopt-{RUN}-{index}", "default", "bench-rs", {}, template, state)
        await runtime.start_pod(spec)
    while sum(p.ready for p in runtime.pods()) < pods:
        await asyncio.sleep(0.1)
    times = []
    for _ in range(rounds):
        await runtime.detach()
        started = time.monotonic()
        runtime = PodmanRuntime(state)
        await runtime.start()
        assert sum(p.ready for p in runtime.pods()) == pods, "not every pod was adopted Ready"
        times.append(time.monotonic() - started)
    await runtime.close()
    return times


def bench_adopt(args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    image = f"localhost/rc-bench-{RUN}/web:v1"
    build_image(env, work, image, "bench v1\n")
    times = asyncio.run(adoption_times(work / "state", image, args.pods, 5))
    print(
        f"detach + start -> {args.pods} podman pods adopted Ready (n={len(times)}): "
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s"
    )


# -- idle ------------------------------------------------------------------------------------


def deployment(
    name: str, image: str, *, replicas: int, service_port: int, period: float = 1.0
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      runtimeClassName: podman
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: {image}
          ports: [{{name: http, containerPort: 80}}]
          readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: {period:g}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: {service_port}, targetPort: http}}]
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def complete(daemon: DaemonProcess, name: str, replicas: int) -> bool:
    status = daemon.status(name)
    return status.get("availableReplicas") == replicas == status.get("updatedReplicas") and (
        status.get("replicas") == replicas
    )


def bench_idle(args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    image = f"localhost/rc-bench-{RUN}/web:v1"
    build_image(env, work, image, "bench v1\n")
    folder = work / "manifests"
    folder.mkdir()
    (folder / "idle.yaml").write_text(
        deployment("idle", image, replicas=args.pods, service_port=free_port(), period=args.period)
    )
    daemon = DaemonProcess(folder, work / "state-idle", "--runtime", "podman")
    daemon.start()
    try:
        started = time.monotonic()
        wait_for(lambda: complete(daemon, "idle", args.pods), timeout=600, what="pods up")
        print(f"{args.pods} pods Ready after {time.monotonic() - started:.1f} s")
        time.sleep(5)  # let the last starts settle
        assert daemon.proc is not None
        pid = daemon.proc.pid
        before, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)
        used = (cpu_seconds(pid) - before) / (time.monotonic() - t0)
        print(
            f"{args.pods} idle podman pods (readiness httpGet every {args.period:g} s): daemon CPU "
            f"{100 * used:.2f} % of a core, RSS {rss_mb(pid):.0f} MB"
        )
    finally:
        daemon.stop(timeout=300)
        asyncio.run(stop_all(daemon.state))  # SIGTERM leaves podman pods running (13a)


# -- side by side with podman kube play -----------------------------------------------------


def bench_peer(args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    v1 = f"localhost/rc-bench-{RUN}/web:v1"
    v2 = f"localhost/rc-bench-{RUN}/web:v2"
    build_image(env, work, v1, "bench v1\n")
    build_image(env, work, v2, "bench v2\n")
    folder = work / "manifests"
    folder.mkdir()
    port = free_port()
    manifest = folder / "web.yaml"
    manifest.write_text(deployment("web", v1, replicas=args.replicas, service_port=port))
    daemon = DaemonProcess(folder, work / "state-peer", "--runtime", "podman")
    started = time.monotonic()
    daemon.start()
    try:
        wait_for(lambda: complete(daemon, "web", args.replicas), timeout=600, what="ours up")
        ours_up = time.monotonic() - started
        with Load(port, workers=4, rate=args.rate, max_seconds=300) as load:
            time.sleep(1)
            manifest.write_text(manifest.read_text().replace(v1, v2))
            wait_for(
                lambda: (
                    complete(daemon, "web", args.replicas)
                    and {c.image for p in daemon.pods() for c in p.containers} == {v2}
                ),
                timeout=600,
                what="ours updated",
            )
            time.sleep(1)
        ours = load.result
    finally:
        daemon.stop(timeout=300)
        asyncio.run(stop_all(daemon.state))  # SIGTERM leaves podman pods running (13a)
    print(f"ours: {args.replicas} replicas Ready in {ours_up:.2f} s (daemon start included)")
    print(
        f"ours: RollingUpdate v1 -> v2 at {args.rate:g} req/s through the Service: "
        f"{len(ours.failures)} failed of {ours.ok + len(ours.failures)}"
    )
    # podman kube play: the same Deployment without our extensions; pods have no Service, so
    # for traffic one replica publishes a hostPort (replicas cannot share one)
    kube = work / "kube.yaml"
    text = deployment("kp", v1, replicas=args.replicas, service_port=1).split("---")[0]
    text = text.replace("      runtimeClassName: podman\n", "").replace("port: http", "port: 80")
    # kube play publishes a containerPort on the same host port (0.0.0.0:80): ten replicas
    # cannot all start with one declared, so this run declares none
    kube.write_text(text.replace("          ports: [{name: http, containerPort: 80}]\n", ""))
    try:
        _kube_play(args, env, kube, text, v1, v2)
    finally:
        podman(env, "kube", "down", str(kube), check=False)


def _kube_play(
    args: argparse.Namespace, env: dict[str, str], kube: Path, text: str, v1: str, v2: str
) -> None:
    started = time.monotonic()
    podman(env, "kube", "play", str(kube))
    wait_for(lambda: _running(env, "kp-pod-") == args.replicas, timeout=600, what="kube up")
    print(
        f"podman kube play: {args.replicas} replicas Running in {time.monotonic() - started:.2f} s"
    )
    podman(env, "kube", "down", str(kube))
    host_port = free_port()
    single = text.replace(f"replicas: {args.replicas}", "replicas: 1").replace(
        "containerPort: 80", f"containerPort: 80, hostPort: {host_port}, hostIP: 127.0.0.1"
    )
    kube.write_text(single)
    podman(env, "kube", "play", str(kube))
    wait_for(lambda: _answers(host_port), timeout=60, what="kube play serving")
    with Load(host_port, workers=4, rate=args.rate, max_seconds=300) as load:
        time.sleep(1)
        kube.write_text(single.replace(v1, v2))
        podman(env, "kube", "play", "--replace", str(kube))
        wait_for(lambda: _answers(host_port, "v2"), timeout=60, what="kube play updated")
        time.sleep(1)
    theirs = load.result
    print(
        f"podman kube play --replace v1 -> v2 at {args.rate:g} req/s (hostPort): "
        f"{len(theirs.failures)} failed of {theirs.ok + len(theirs.failures)}"
    )


def _running(env: dict[str, str], prefix: str) -> int:
    """How many pods named ``prefix...`` are Running (``podman kube play`` sets no label)."""
    rows = podman(env, "pod", "ps", "--format", "{{.Name}} {{.Status}}").splitlines()
    return sum(1 for row in rows if row.startswith(prefix) and row.endswith(" Running"))


def _answers(port: int, version: str = "") -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return version in response.read().decode()
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["start", "idle", "peer", "adopt"])
    parser.add_argument("--pods", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period", type=float, default=10.0, help="readiness probe period (s)")
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    args.pods = args.pods or (30 if args.what == "start" else 50)
    configure("warning", json=True)
    with tempfile.TemporaryDirectory(prefix="bench-podman-") as tmp:
        work = Path(tmp)
        env = configure_podman(work / "conf")
        os.environ.update({k: v for k, v in env.items() if k == "CONTAINERS_CONF"})
        try:
            {
                "start": bench_start,
                "idle": bench_idle,
                "peer": bench_peer,
                "adopt": bench_adopt,
            }[args.what](args, env, work)
        finally:
            cleanup(env)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


if __name__ == "__main__":
    main()
