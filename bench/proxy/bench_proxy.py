"""Proxy cost and canary accuracy (issue 6): is a Service cheap enough and its split exact?

Side by side in one run, all on loopback, 1 KiB HTTP responses:

- throughput and p50/p99 with ``wrk`` (keep-alive, and a new connection per request), direct to
  one backend vs. through ``TcpProxy`` in a process of its own vs. ``TcpProxy`` in the
  data-plane process the daemon configures over its control socket (``--no-dataplane`` skips
  it) vs. HAProxy (tcp mode, roundrobin, one thread), optionally vs. a streams-based forwarder;
- latency at a fixed 1,000 requests/s from a paced asyncio client (new connection per request),
  and the p99 the proxy adds over going direct;
- canary accuracy: ``setWeight: 20`` over 5,000 connections, and ``sessionAffinity: ClientIP``
  with 100 distinct 127.0.0.x clients.

The machine is shared, so targets take turns: each round runs every target in short slices (its
order rotated from round to round) and the report gives medians over rounds; throughput ratios
and the added p99 are computed within a round, where all targets saw the same background load.

Every process it starts (backends, proxies, HAProxy) is its own child and is stopped at the end.
HAProxy rows are skipped with a note when ``haproxy`` is not installed, and the whole benchmark
when ``wrk`` is not.

    python bench/proxy/bench_proxy.py [--rounds 3] [--duration 3] [--paced-seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
RESPONSE_SIZE = 1024


# -- processes ----------------------------------------------------------------------------


def _ready_line(proc: subprocess.Popen[str], timeout: float = 10.0) -> list[str]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"{proc.args!r} did not start in {timeout} s")
    words = proc.stdout.readline().split()
    if not words or words[0] != "READY":
        raise RuntimeError(f"{proc.args!r} failed to start: {words!r}")
    return words[1:]


@contextmanager
def child(args: list[str]) -> Iterator[tuple[list[str], int]]:
    """Start a child that prints ``READY ...``; yield the words after READY and its pid."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Every child in its own session: with the kernel's autogroup scheduling (the default on
    # most distributions) each session shares the CPU as one group, and the data plane runs in
    # its own session by design; so must every other target, or the comparison is not fair.
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True
    )
    try:
        yield _ready_line(proc), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def haproxy(backend_ports: list[str]) -> Iterator[tuple[list[str], int]]:
    port = free_port()
    servers = "\n".join(
        f"  server s{i} 127.0.0.1:{p}" for i, p in enumerate(backend_ports, start=1)
    )
    config = f"""global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend service
  bind 127.0.0.1:{port}
  default_backend pods
backend pods
  balance roundrobin
{servers}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as file:
        file.write(config)
    proc = subprocess.Popen(
        ["haproxy", "-f", file.name, "-db"], stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_listening(port)
        yield [str(port)], proc.pid
    finally:
        proc.terminate()
        proc.wait(5)
        os.unlink(file.name)


# -- wrk ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(port: int, *, duration: float, connections: int, close: bool) -> WrkResult:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    if close:
        args += ["-H", "Connection: close"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True
    ).stdout
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(count, rps, p50, p99, errors + (int(non2xx.group(1)) if non2xx else 0))


# -- paced client ------------------------------------------------------------------------


async def _one_request(port: int, latencies: list[float], failures: list[str]) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        data = await reader.read()
        writer.close()
        if len(data) < RESPONSE_SIZE:
            failures.append("short")
            return
    except OSError as exc:
        failures.append(type(exc).__name__)
        return
    latencies.append((time.perf_counter() - started) * 1000)


async def paced(
    ports: dict[str, int], *, rate: float, seconds: float
) -> dict[str, tuple[float, float, int]]:
    """p50/p99 (ms) and failures per target, requests started at a fixed rate, new connection each.

    The targets take turns in one-second slices, so noise from other work on the machine lands
    on all of them alike instead of on whichever happened to run during it.
    """
    latencies: dict[str, list[float]] = {label: [] for label in ports}
    failures: dict[str, list[str]] = {label: [] for label in ports}
    tasks: set[asyncio.Task[None]] = set()
    gc.disable()  # a collection pause would land in somebody's p99
    try:
        for _ in range(max(1, round(seconds))):
            for label, port in ports.items():
                start = time.perf_counter()
                for i in range(int(rate)):
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    task = asyncio.create_task(
                        _one_request(port, latencies[label], failures[label])
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.wait(tasks, timeout=10)
    finally:
        gc.enable()
    result = {}
    for label, values in latencies.items():
        cuts = statistics.quantiles(values, n=100)
        result[label] = (cuts[49], cuts[98], len(failures[label]))
    return result


# -- canary accuracy ---------------------------------------------------------------------


async def canary_accuracy(connections: int, clients: int) -> tuple[Counter[str], int, int]:
    """setWeight 20 split over ``connections``; ClientIP: clients with >1 version, canary ones."""
    from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
    from reconciler.proxy.server import TcpProxy

    async def serve(name: bytes) -> tuple[asyncio.Server, int]:
        async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(name)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        return server, int(server.sockets[0].getsockname()[1])

    servers = {n: await serve(n.encode()) for n in ("stable-a", "stable-b", "canary-a")}
    stable = tuple(Endpoint(n, "127.0.0.1", servers[n][1]) for n in ("stable-a", "stable-b"))
    canary = (Endpoint("canary-a", "127.0.0.1", servers["canary-a"][1]),)
    groups = (BackendGroup("stable", 80, stable), BackendGroup("canary", 20, canary))
    proxy = TcpProxy()
    limit = asyncio.Semaphore(32)

    async def version(port: int, source: str | None = None) -> str:
        async with limit:
            local = (source, 0) if source else None
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
            name = (await reader.read()).decode()
            writer.close()
            return name.split("-")[0]

    proxy.set_backends("bench/split", "http", groups)
    await proxy.ensure_listener(ListenerSpec("bench/split", "http", "127.0.0.1", 0))
    port = proxy.address("bench/split", "http")[1]
    split = Counter(await asyncio.gather(*(version(port) for _ in range(connections))))

    proxy.set_backends("bench/sticky", "http", groups)
    await proxy.ensure_listener(ListenerSpec("bench/sticky", "http", "127.0.0.1", 0, 60.0))
    port = proxy.address("bench/sticky", "http")[1]
    seen: dict[str, set[str]] = {}
    for _ in range(10):  # ten rounds over all clients
        sources = [f"127.0.0.{n}" for n in range(2, 2 + clients)]
        names = await asyncio.gather(*(version(port, s) for s in sources))
        for source, name in zip(sources, names, strict=True):
            seen.setdefault(source, set()).add(name)
    mixed = sum(1 for versions in seen.values() if len(versions) > 1)
    on_canary = sum(1 for versions in seen.values() if versions == {"canary"})
    await proxy.close()
    for server, _ in servers.values():
        server.close()
    return split, mixed, on_canary


# -- main --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Round:
    """One target's figures in one round."""

    keep: WrkResult
    new: WrkResult
    paced_p50_ms: float
    paced_p99_ms: float
    paced_failures: int
    cpu_us: tuple[float, float] | None = None  # proxy process: user, system CPU per new request


def cpu_seconds(pid: int | None) -> tuple[float, float] | None:
    """User and system CPU time a process has used so far (Linux ``/proc``), else None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _rotated(labels: list[str], turn: int) -> list[str]:
    """Each round starts with another target, so no target always runs first or last."""
    turn %= len(labels)
    return labels[turn:] + labels[:turn]


def measure(
    ports: dict[str, int], args: argparse.Namespace, *, turn: int, pids: dict[str, int]
) -> dict[str, Round]:
    """One round: paced latency (1 s slices), then keep-alive and new-connection wrk slices.

    Paced latency comes first and new-connection runs last: every closed connection leaves a
    TIME_WAIT socket on loopback (a proxy doubles them), and many of them make ``connect()``
    slower for whatever runs next; alternating the targets spreads that over all of them.
    """
    labels = _rotated(list(ports), turn)
    order = {label: ports[label] for label in labels}
    fixed = asyncio.run(paced(order, rate=args.rate, seconds=args.paced_seconds))
    keep = {
        label: wrk(order[label], duration=args.duration, connections=args.connections, close=False)
        for label in labels
    }
    new: dict[str, WrkResult] = {}
    cpu: dict[str, tuple[float, float] | None] = {}
    for label in labels:
        before = cpu_seconds(pids.get(label))
        new[label] = wrk(
            order[label], duration=args.duration, connections=args.connections, close=True
        )
        after = cpu_seconds(pids.get(label))
        cpu[label] = None
        if before is not None and after is not None and new[label].requests:
            per = 1e6 / new[label].requests
            cpu[label] = ((after[0] - before[0]) * per, (after[1] - before[1]) * per)
    return {label: Round(keep[label], new[label], *fixed[label], cpu[label]) for label in ports}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report(rounds: list[dict[str, Round]], args: argparse.Namespace) -> None:
    """Medians over rounds; ratios and added p99 are taken within a round, then their median."""
    labels = list(rounds[0])
    direct = labels[0]
    print()
    print(
        "| path | keep-alive req/s | p50 / p99 ms | new conn. req/s | p50 / p99 ms "
        f"| at {args.rate:g} req/s p50 / p99 ms | added p99 ms | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        runs = [r[label] for r in rounds]

        def med(get: Callable[[Round], float], runs: list[Round] = runs) -> float:
            return _median([get(run) for run in runs])

        added = _median([r[label].paced_p99_ms - r[direct].paced_p99_ms for r in rounds])
        errors = sum(run.keep.errors + run.new.errors + run.paced_failures for run in runs)
        print(
            f"| {label} | {med(lambda r: r.keep.requests_per_s):,.0f} "
            f"| {med(lambda r: r.keep.p50_ms):.2f} / {med(lambda r: r.keep.p99_ms):.2f} "
            f"| {med(lambda r: r.new.requests_per_s):,.0f} "
            f"| {med(lambda r: r.new.p50_ms):.2f} / {med(lambda r: r.new.p99_ms):.2f} "
            f"| {med(lambda r: r.paced_p50_ms):.2f} / {med(lambda r: r.paced_p99_ms):.2f} "
            f"| {added:+.2f} | {errors} |"
        )
    print()
    print("new connection per request, req/s in each round:")
    for label in labels:
        values = ", ".join(f"{r[label].new.requests_per_s:,.0f}" for r in rounds)
        print(f"  {label}: {values}")
    print("added p99 at the paced rate (ms, vs direct in the same round), each round:")
    for label in labels[1:]:
        values = ", ".join(f"{r[label].paced_p99_ms - r[direct].paced_p99_ms:+.2f}" for r in rounds)
        print(f"  {label}: {values}")
    print("proxy process CPU per request, new connection per request (median user + system):")
    for label in labels:
        samples = [c for r in rounds if (c := r[label].cpu_us) is not None]
        if samples:
            user = _median([c[0] for c in samples])
            system = _median([c[1] for c in samples])
            print(f"  {label}: {user:.0f} + {system:.0f} = {user + system:.0f} µs")
    print()
    for ours in (TCPPROXY, DATAPLANE):
        if ours not in labels:
            continue
        for other in (direct, HAPROXY, TCPPROXY):
            if other == ours:
                continue
            if other not in labels:
                continue
            keep = [r[ours].keep.requests_per_s / r[other].keep.requests_per_s for r in rounds]
            new = [r[ours].new.requests_per_s / r[other].new.requests_per_s for r in rounds]
            print(
                f"{ours} / {other}: keep-alive {_median(keep):.0%}, new connection "
                f"{_median(new):.0%} (per round: {', '.join(f'{v:.0%}' for v in new)})"
            )


TCPPROXY = "TcpProxy (Service)"
DATAPLANE = "TcpProxy in the data plane"
HAPROXY = "HAProxy 1 thread, tcp"
STREAMS = "streams forwarder"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk slice")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests/s")
    parser.add_argument(
        "--paced-seconds", type=float, default=3.0, help="1 s paced slices per target per round"
    )
    parser.add_argument("--streams", action="store_true", help="add the streams forwarder")
    parser.add_argument("--no-canary", action="store_true", help="skip the canary accuracy")
    parser.add_argument(
        "--no-dataplane", action="store_true", help="skip TcpProxy in the data-plane process"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("skipped: wrk is not installed (apt-get install wrk)")
        return 0
    from reconciler.log import configure

    configure("warning", json=True)
    py = sys.executable
    print(
        f"# proxy benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"{args.rounds} rounds; per round and target: wrk -t1 -c{args.connections} "
        f"{args.duration:g} s keep-alive and {args.duration:g} s new connection, "
        f"paced {args.rate:g} req/s for {args.paced_seconds:g} x 1 s"
    )
    rounds: list[dict[str, Round]] = []
    with ExitStack() as stack:
        backend_ports, _ = stack.enter_context(child([py, str(HERE / "backend.py"), "2"]))
        serve = [py, str(HERE / "serve_proxy.py")]
        pids: dict[str, int] = {}

        def proxy(kind: str, label: str) -> int:
            words, pids[label] = stack.enter_context(child([*serve, kind, *backend_ports]))
            if len(words) > 1:  # the process that forwards is not the child itself
                pids[label] = int(words[1])
            return int(words[0])

        ports = {
            "direct to one backend": int(backend_ports[0]),
            TCPPROXY: proxy("tcpproxy", TCPPROXY),
        }
        if not args.no_dataplane:
            ports[DATAPLANE] = proxy("dataplane", DATAPLANE)
        if shutil.which("haproxy") is None:
            print("skipped HAProxy: haproxy not installed (apt-get install haproxy)")
        else:
            words, pids[HAPROXY] = stack.enter_context(haproxy(backend_ports))
            ports[HAPROXY] = int(words[0])
        if args.streams:
            ports[STREAMS] = proxy("streams", STREAMS)
        for turn in range(args.rounds):
            rounds.append(measure(ports, args, turn=turn, pids=pids))
            print(f"round {turn + 1} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    report(rounds, args)
    if args.no_canary:
        return 0
    split, mixed, on_canary = asyncio.run(canary_accuracy(5000, 100))
    total = sum(split.values())
    print()
    print(
        f"setWeight 20 over {total} connections: canary {split['canary']} "
        f"({split['canary'] / total:.2%}), stable {split['stable']}"
    )
    print(
        f"ClientIP affinity, 100 clients x 10 connections: {mixed} clients saw two versions, "
        f"{on_canary} clients stayed on the canary"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
