"""HTTP Services (issue 20): is an ``appProtocol: http`` port fast enough, and its split exact?

Side by side in one run, on loopback, 1 KiB responses from the same backend process as
``bench_proxy.py`` (whose helpers, rounds and table this reuses):

- direct to one backend; ``TcpProxy`` with a tcp listener (the unchanged TCP path); ``TcpProxy``
  with an http listener (requests routed one by one, upstream keep-alive pool); HAProxy
  ``mode tcp`` and ``mode http`` (``option forwardfor``, as our proxy adds X-Forwarded-For),
  each in a process of its own with one thread;
- ``wrk`` keep-alive and a new connection per request, and the paced 1,000 req/s latency;
- the canary split at ``setWeight: 20`` over 5,000 keep-alive requests from 10 connections.

    python bench/proxy/bench_http.py [--rounds 3] [--duration 3] [--paced-seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_proxy import (  # noqa: E402
    REQUEST,
    RESPONSE_SIZE,
    Round,
    _median,
    child,
    free_port,
    measure,
    report,
    wait_listening,
)

TCP = "TcpProxy tcp listener"
HTTP = "TcpProxy http listener"
HA_TCP = "HAProxy 1 thread, mode tcp"
HA_HTTP = "HAProxy 1 thread, mode http"


@contextmanager
def haproxy(backend_ports: list[str], mode: str) -> Iterator[tuple[list[str], int]]:
    port = free_port()
    servers = "\n".join(
        f"  server s{i} 127.0.0.1:{p}" for i, p in enumerate(backend_ports, start=1)
    )
    http = "  option forwardfor\n  option http-keep-alive\n" if mode == "http" else ""
    config = f"""global
  nbthread 1
  maxconn 4096
defaults
  mode {mode}
{http}  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
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


async def canary_split(requests: int, connections: int) -> Counter[str]:
    """``setWeight: 20`` on an http listener: the version of each of ``requests`` keep-alive
    requests, ``connections`` connections sending in turn."""
    from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
    from reconciler.proxy.server import TcpProxy

    async def serve(name: bytes) -> tuple[asyncio.Server, int]:
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(name), name)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            open_handlers.add(writer)
            try:
                while await reader.readuntil(b"\r\n\r\n"):
                    writer.write(reply)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
            finally:
                open_handlers.discard(writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return server, int(server.sockets[0].getsockname()[1])

    open_handlers: set[asyncio.StreamWriter] = set()
    servers = {n: await serve(n.encode()) for n in ("stable-a", "stable-b", "canary-a")}
    stable = tuple(Endpoint(n, "127.0.0.1", servers[n][1]) for n in ("stable-a", "stable-b"))
    canary = (Endpoint("canary-a", "127.0.0.1", servers["canary-a"][1]),)
    proxy = TcpProxy()
    spec = ListenerSpec("bench/split", "http", "127.0.0.1", 0, protocol="http")
    await proxy.ensure_listener(spec)
    proxy.set_backends(
        "bench/split",
        "http",
        (BackendGroup("stable", 80, stable), BackendGroup("canary", 20, canary)),
    )
    port = proxy.address("bench/split", "http")[1]
    seen: Counter[str] = Counter()

    async def client(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            seen[(await reader.readexactly(length)).decode().split("-")[0]] += 1
        writer.close()

    await asyncio.gather(*(client(requests // connections) for _ in range(connections)))
    await proxy.close()  # closes the pooled upstream connections: the handlers see EOF
    for server, _ in servers.values():
        server.close()
    async with asyncio.timeout(5):
        while open_handlers:
            await asyncio.sleep(0.01)
    return seen


async def interleaved_p99(
    ports: dict[str, int], *, rate: float, seconds: float, keep_alive: bool
) -> dict[str, float]:
    """p99 (ms) per target at ``rate`` requests/s each, the targets' requests interleaved one
    by one (every tick sends one request to each target, in a rotating order): background load
    on a shared machine then lands on every target alike, which the 1 s slices of
    ``bench_proxy.paced`` cannot ensure when the load swings within a second. ``keep_alive``:
    each target's requests go over 8 kept-alive connections, else a new connection each."""
    labels = list(ports)
    latencies: dict[str, list[float]] = {label: [] for label in labels}
    pools: dict[str, asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
    if keep_alive:
        for label in labels:
            pools[label] = asyncio.Queue()
            for _ in range(8):
                pools[label].put_nowait(await asyncio.open_connection("127.0.0.1", ports[label]))
    request = REQUEST if not keep_alive else b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

    async def one(label: str) -> None:
        started = time.perf_counter()
        if keep_alive:
            reader, writer = await pools[label].get()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", ports[label])
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(RESPONSE_SIZE)
        latencies[label].append((time.perf_counter() - started) * 1000)
        if keep_alive:
            pools[label].put_nowait((reader, writer))
        else:
            writer.close()

    tasks: set[asyncio.Task[None]] = set()
    gc.disable()
    try:
        start = time.perf_counter()
        for tick in range(int(rate * seconds)):
            delay = start + tick / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            turn = tick % len(labels)
            for label in labels[turn:] + labels[:turn]:
                task = asyncio.create_task(one(label))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.wait(tasks, timeout=10)
    finally:
        gc.enable()
    for pool in pools.values():
        while not pool.empty():
            pool.get_nowait()[1].close()
    return {label: statistics.quantiles(v, n=100)[98] for label, v in latencies.items()}


def ratios(rounds: list[dict[str, Round]]) -> None:
    """Per-round throughput ratios (same background load), then their median."""
    pairs = [(HTTP, HA_HTTP), (HTTP, TCP), (TCP, HA_TCP), (HA_HTTP, HA_TCP)]
    for ours, other in pairs:
        if ours not in rounds[0] or other not in rounds[0]:
            continue
        keep = [r[ours].keep.requests_per_s / r[other].keep.requests_per_s for r in rounds]
        new = [r[ours].new.requests_per_s / r[other].new.requests_per_s for r in rounds]
        print(
            f"{ours} / {other}: keep-alive {_median(keep):.0%} "
            f"(per round: {', '.join(f'{v:.0%}' for v in keep)}), new connection "
            f"{_median(new):.0%} (per round: {', '.join(f'{v:.0%}' for v in new)})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk slice")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests/s")
    parser.add_argument(
        "--paced-seconds", type=float, default=3.0, help="1 s paced slices per target per round"
    )
    parser.add_argument("--no-canary", action="store_true", help="skip the canary split")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("skipped: wrk is not installed (apt-get install wrk)")
        return 0
    from reconciler.log import configure

    configure("warning", json=True)
    py = sys.executable
    print(
        f"# http proxy benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}, {args.rounds} rounds; per round and target: wrk -t1 "
        f"-c{args.connections} {args.duration:g} s keep-alive and {args.duration:g} s new "
        f"connection, paced {args.rate:g} req/s for {args.paced_seconds:g} x 1 s"
    )
    rounds: list[dict[str, Round]] = []
    with ExitStack() as stack:
        backend_ports, _ = stack.enter_context(child([py, str(HERE / "backend.py"), "2"]))
        serve = [py, str(HERE / "serve_proxy.py")]
        pids: dict[str, int] = {}

        def proxy(kind: str, label: str) -> int:
            words, pids[label] = stack.enter_context(child([*serve, kind, *backend_ports]))
            return int(words[0])

        ports = {
            "direct to one backend": int(backend_ports[0]),
            TCP: proxy("tcpproxy", TCP),
            HTTP: proxy("tcpproxy-http", HTTP),
        }
        if shutil.which("haproxy") is None:
            print("skipped HAProxy: haproxy not installed (apt-get install haproxy)")
        else:
            for label, mode in ((HA_TCP, "tcp"), (HA_HTTP, "http")):
                words, pids[label] = stack.enter_context(haproxy(backend_ports, mode))
                ports[label] = int(words[0])
        added: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for turn in range(args.rounds):
            rounds.append(measure(ports, args, turn=turn, pids=pids))
            paced = {k: v for k, v in ports.items() if k != HA_TCP}  # the client is one process
            for keep_alive in (False, True):
                p99 = asyncio.run(
                    interleaved_p99(
                        paced, rate=args.rate, seconds=args.paced_seconds, keep_alive=keep_alive
                    )
                )
                direct = p99["direct to one backend"]
                added[keep_alive].append({k: v - direct for k, v in p99.items()})
            print(f"round {turn + 1} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    report(rounds, args)
    ratios(rounds)
    for keep_alive, runs in added.items():
        kind = "8 keep-alive connections" if keep_alive else "a new connection each"
        print(f"added p99 at {args.rate:g} req/s, interleaved, {kind} (ms, median; per round):")
        for label in [k for k in runs[0] if k != "direct to one backend"]:
            values = [r[label] for r in runs]
            each = ", ".join(f"{v:+.2f}" for v in values)
            print(f"  {label}: {_median(values):+.2f} ({each})")
    if args.no_canary:
        return 0
    split = asyncio.run(canary_split(5000, 10))
    total = sum(split.values())
    print()
    print(
        f"setWeight 20 over {total} keep-alive requests from 10 connections: canary "
        f"{split['canary']} ({split['canary'] / total:.2%}), stable {split['stable']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
