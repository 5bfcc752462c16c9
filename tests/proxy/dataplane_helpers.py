"""Real data planes for the tests: a state directory, threaded backends, a load thread."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.client import DataPlaneClient
from tests.polling import wait_for
from tests.ports import free_port as free_port  # the data plane tests import it from here

WEB = "default/web"


@contextmanager
def backend(reply: bytes = b"hi\n", name: str = "pod-a") -> Iterator[Endpoint]:
    """A thread that answers every connection with ``reply`` and closes it."""
    server = socket.create_server(("127.0.0.1", 0), backlog=512)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Endpoint(name, "127.0.0.1", server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()


def answer(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        return conn.recv(16)


class Load:
    """New connections in a loop from a thread; every one must be answered ``hi``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = answer(self.port)
                if data == b"hi\n":
                    self.ok += 1
                else:
                    self.failures.append(f"answer {data!r}")
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.002)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


async def serving(client: DataPlaneClient, endpoint: Endpoint, port: int = 0) -> int:
    await client.ensure_listener(ListenerSpec(WEB, "http", "127.0.0.1", port))
    client.set_backends(WEB, "http", (BackendGroup("all", 1, (endpoint,)),))
    await client.configured()
    number = client.address(WEB, "http")[1]
    await asyncio.to_thread(lambda: eventually_answers(number))
    return number


def eventually_answers(port: int) -> None:
    def answers() -> bool:
        try:
            return answer(port) == b"hi\n"
        except OSError:
            return False

    wait_for(answers, timeout=5, interval=0.02, what=f"port {port} to answer")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
