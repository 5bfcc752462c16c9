"""Run one proxy in its own process for the benchmark: TcpProxy, or a streams forwarder.

``python serve_proxy.py tcpproxy PORT...`` forwards a listener to the backends on those ports
(round-robin, one group) and prints ``READY <port>``; ``tcpproxy-http`` is the same listener
with ``protocol: http`` (requests routed one by one, ``bench_http.py``). ``dataplane`` does
the same through the daemon's path: a data-plane process (``reconciler/proxy/dataplane.py``)
in a temporary state directory, configured by a ``DataPlaneClient`` from this process; it
prints ``READY <port> <data plane pid>`` (the process whose CPU counts) and stops the data
plane on SIGTERM.
``streams`` is the obvious alternative design, two ``StreamReader``/``StreamWriter`` copy
tasks per connection, kept for comparison.
(The figures of the previous, transport-based TcpProxy are in bench/README.md; its code is in
git history at 6c3cb7c.)
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from reconciler.log import configure
from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.server import TcpProxy


async def run_tcpproxy(ports: list[int], protocol: str = "tcp") -> None:
    proxy = TcpProxy()
    endpoints = tuple(Endpoint(f"pod-{p}", "127.0.0.1", p) for p in ports)
    proxy.set_backends("bench/web", "http", (BackendGroup("web", 1, endpoints),))
    spec = ListenerSpec("bench/web", "http", "127.0.0.1", 0, protocol=protocol)
    await proxy.ensure_listener(spec)
    print("READY", proxy.address("bench/web", "http")[1], flush=True)
    await asyncio.Event().wait()


async def run_dataplane(ports: list[int]) -> None:
    from reconciler.proxy.client import DataPlaneClient
    from reconciler.proxy.dataplane import stop_dataplane

    state = Path(tempfile.mkdtemp(prefix="bench-dataplane-"))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    client = DataPlaneClient(state)
    try:
        await client.start()
        endpoints = tuple(Endpoint(f"pod-{p}", "127.0.0.1", p) for p in ports)
        await client.ensure_listener(ListenerSpec("bench/web", "http", "127.0.0.1", 0))
        client.set_backends("bench/web", "http", (BackendGroup("web", 1, endpoints),))
        await client.configured()
        print("READY", client.address("bench/web", "http")[1], client.pid, flush=True)
        await stop.wait()
        await client.close()
    finally:
        await asyncio.to_thread(stop_dataplane, state, drain=1.0)
        shutil.rmtree(state, ignore_errors=True)


async def run_streams(ports: list[int]) -> None:
    turns = itertools.cycle(ports)

    async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except ConnectionError:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        b_reader, b_writer = await asyncio.open_connection("127.0.0.1", next(turns))
        await asyncio.gather(copy(reader, b_writer), copy(b_reader, writer))
        writer.close()
        b_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    configure("warning", json=True)
    kind, backend_ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    if kind == "streams":
        asyncio.run(run_streams(backend_ports))
    elif kind == "dataplane":
        asyncio.run(run_dataplane(backend_ports))
    elif kind == "tcpproxy-http":
        asyncio.run(run_tcpproxy(backend_ports, "http"))
    else:
        asyncio.run(run_tcpproxy(backend_ports))
