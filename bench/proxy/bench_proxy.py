"""Proxy cost and canary accuracy (issue 6): is a Service cheap enough and its split exact?

Side by side in one run, all on loopback, 1 KiB HTTP responses:

- throughput and p50/p99 with ``wrk`` (keep-alive, and a new connection per request), direct to
  one backend vs. through ``TcpProxy`` vs. HAProxy (tcp mode, roundrobin, one thread) vs. a
  streams-based forwarder (the design ``TcpProxy`` did not take);
- latency at a fixed 1,000 requests/s from a paced asyncio client (new connection per request),
  and the p99 the proxy adds over going direct;
- canary accuracy: ``setWeight: 20`` over 5,000 connections, and ``sessionAffinity: ClientIP``
  with 100 distinct 127.0.0.x clients.

Every process it starts (backends, proxies, HAProxy) is its own child and is stopped at the end.
HAProxy rows are skipped with a note when ``haproxy`` is not installed; ``wrk`` is required.

    python bench/proxy/bench_proxy.py [--duration 5] [--connections 32] [--rate 1000]
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
from collections.abc import Iterator
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
def child(args: list[str]) -> Iterator[list[str]]:
    """Start a child that prints ``READY ...``; yield the words after READY; stop it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        yield _ready_line(proc)
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
def haproxy(backend_ports: list[str]) -> Iterator[list[str]]:
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
    proc = subprocess.Popen(["haproxy", "-f", file.name, "-db"], stdout=subprocess.DEVNULL)
    try:
        wait_listening(port)
        yield [str(port)]
    finally:
        proc.terminate()
        proc.wait(5)
        os.unlink(file.name)


# -- wrk ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
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
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(rps, p50, p99, errors + (int(non2xx.group(1)) if non2xx else 0))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests/s")
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    from reconciler.log import configure

    configure("warning", json=True)
    py = sys.executable
    print(
        f"# proxy benchmark: {os.cpu_count()} CPUs, wrk -t1 -c{args.connections}, "
        f"{args.duration:g} s per run, paced {args.rate:g} req/s for {args.paced_seconds:g} s"
    )
    rows: list[tuple[str, WrkResult, WrkResult, tuple[float, float, int]]] = []
    with ExitStack() as stack:
        backend_ports = stack.enter_context(child([py, str(HERE / "backend.py"), "2"]))
        serve = [py, str(HERE / "serve_proxy.py")]
        ports = {
            "direct to one backend": int(backend_ports[0]),
            "TcpProxy (Service)": int(
                stack.enter_context(child([*serve, "tcpproxy", *backend_ports]))[0]
            ),
        }
        if shutil.which("haproxy") is None:
            print("skipped HAProxy: haproxy not installed (apt-get install haproxy)")
        else:
            ports["HAProxy 1 thread, tcp"] = int(stack.enter_context(haproxy(backend_ports))[0])
        ports["streams forwarder (rejected design)"] = int(
            stack.enter_context(child([*serve, "streams", *backend_ports]))[0]
        )
        # Paced latency first and new-connection runs last: every closed connection leaves a
        # TIME_WAIT socket on loopback (the proxy doubles them), and tens of thousands of them
        # make connect() itself slow for whatever runs next.
        fixed = asyncio.run(paced(ports, rate=args.rate, seconds=args.paced_seconds))
        keep = {
            label: wrk(port, duration=args.duration, connections=args.connections, close=False)
            for label, port in ports.items()
        }
        new = {
            label: wrk(port, duration=args.duration, connections=args.connections, close=True)
            for label, port in ports.items()
        }
        measured = {label: (keep[label], new[label]) for label in ports}
        rows = [(label, *measured[label], fixed[label]) for label in ports]

    direct = rows[0]
    print()
    print(
        "| path | keep-alive req/s | p50 / p99 ms | new conn. req/s | p50 / p99 ms "
        f"| at {args.rate:g} req/s p50 / p99 ms | added p99 ms | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, keep, new, (p50, p99, failed) in rows:
        added = p99 - direct[3][1]
        errors = keep.errors + new.errors + failed
        print(
            f"| {label} | {keep.requests_per_s:,.0f} | {keep.p50_ms:.2f} / {keep.p99_ms:.2f} "
            f"| {new.requests_per_s:,.0f} | {new.p50_ms:.2f} / {new.p99_ms:.2f} "
            f"| {p50:.2f} / {p99:.2f} | {added:+.2f} | {errors} |"
        )
    by_label = {label: (keep, new) for label, keep, new, _ in rows}
    ours = by_label.get("TcpProxy (Service)")
    if ours:
        print()
        for other in ("direct to one backend", "HAProxy 1 thread, tcp"):
            if other in by_label:
                keep_ratio = ours[0].requests_per_s / by_label[other][0].requests_per_s
                new_ratio = ours[1].requests_per_s / by_label[other][1].requests_per_s
                print(
                    f"TcpProxy / {other}: keep-alive {keep_ratio:.0%}, new connection "
                    f"{new_ratio:.0%}"
                )

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
