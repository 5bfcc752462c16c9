"""A small, bounded HTTP load generator for loopback Services (zero-downtime checks).

Each worker thread sends GET / in a loop, either on a new connection per request or on one
keep-alive connection. A keep-alive connection that the server closed while it was idle is
retried once on a fresh connection before any response byte was read, exactly as HTTP clients
(urllib3, browsers) do for idempotent requests; everything else that goes wrong is a failure.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)


class Load:
    def __init__(
        self,
        port: int,
        *,
        workers: int = 4,
        keepalive: bool = False,
        rate: float = 200.0,
        source: str = "127.0.0.1",
        max_seconds: float = 120.0,
    ) -> None:
        self.port = port
        self.workers = workers
        self.keepalive = keepalive
        self.interval = workers / rate
        self.source = source
        self.max_seconds = max_seconds
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=5, source_address=(self.source, 0)
        )

    def _record(self, body: str | None, failure: str | None) -> None:
        with self._lock:
            if failure is not None:
                self.result.failures.append(failure)
            else:
                assert body is not None
                self.result.ok += 1
                parts = body.split()
                self.result.versions[parts[1] if len(parts) > 1 else body] += 1

    def _request(self, conn: http.client.HTTPConnection) -> str:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return body

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            started = time.monotonic()
            try:
                if not self.keepalive or conn is None:
                    if conn is not None:
                        conn.close()
                    conn = self._connect()
                    body = self._request(conn)
                else:
                    try:
                        body = self._request(conn)
                    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                        conn.close()  # closed while idle: retry once on a fresh connection
                        conn = self._connect()
                        body = self._request(conn)
                self._record(body, None)
            except (OSError, http.client.HTTPException, RuntimeError) as exc:
                self._record(None, f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            spent = time.monotonic() - started
            self._stop.wait(max(0.0, self.interval - spent))
        if conn is not None:
            conn.close()


def fetch_version(port: int, *, source: str = "127.0.0.1") -> str:
    """One request on a new connection: the version that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode().split()[1]
    finally:
        conn.close()


def refused_quickly(port: int, within: float = 0.5) -> bool:
    """True if a connection to ``port`` is refused or closed without an answer, promptly."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=within) as sock:
            sock.settimeout(within)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = sock.recv(100)
            return data == b"" and time.monotonic() - started < within
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started < within
    except TimeoutError:
        return False
