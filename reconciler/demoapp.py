"""A tiny HTTP app that says which version and pod answered, so rollouts are visible with curl.

The example manifests run it as their container (``python3 -m reconciler.demoapp``): it needs
nothing but the standard library, so they work on a fresh machine. ``GET /`` answers
``demo <IMAGE_TAG> <POD_NAME>``; ``GET /healthz`` answers 200 for readiness probes. On SIGTERM it
stops accepting, lets in-flight requests finish and exits 0, as a well-behaved pod should.

Environment: ``PORT`` (default 8080), ``IMAGE_TAG``, ``POD_NAME`` (set by the runtime),
``READY_DELAY`` (seconds to wait before listening: a slow start), ``FAIL`` (when set, ``/healthz``
answers 500: a version whose readiness never passes), ``ERROR_RATE`` (a share, 0 to 1, of
``GET /`` answered 500, evenly spread: ``0.1`` fails the 10th, 20th, ... request; a bad version
whose probes pass, which only an analysis of its real requests catches).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

_served = 0
_served_lock = threading.Lock()


def _fails_now() -> bool:
    """``ERROR_RATE`` of the requests fail, evenly: request n fails when floor(n * rate) steps."""
    global _served
    try:
        rate = float(os.environ.get("ERROR_RATE", "0") or 0)
    except ValueError:
        rate = 0.0
    if rate <= 0:
        return False
    with _served_lock:
        _served += 1
        n = _served
    return int(n * rate + 1e-9) > int((n - 1) * rate + 1e-9)


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection, many requests
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server_version = "reconciler-demo/1"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            failing = bool(os.environ.get("FAIL"))
            self._reply(500 if failing else 200, "unhealthy\n" if failing else "ok\n")
            return
        tag = os.environ.get("IMAGE_TAG", "latest")
        pod = os.environ.get("POD_NAME", "local")
        if _fails_now():
            self._reply(500, f"demo {tag} {pod} error\n")
            return
        self._reply(200, f"demo {tag} {pod}\n")

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


class DemoServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, DemoHandler)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drain(self) -> None:
        """Stop reading from open connections: idle keep-alive ones end, answers still go out."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)


def serve(port: int, *, ready_delay: float = 0.0) -> int:
    """Serve until SIGTERM/SIGINT, then drain and return 0."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ready_delay > 0 and stopping.wait(ready_delay):
        return 0
    server = DemoServer(("127.0.0.1", port))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    print(f"demo {os.environ.get('IMAGE_TAG', 'latest')} listening on 127.0.0.1:{port}", flush=True)
    while not stopping.wait(0.5):
        pass
    server.shutdown()  # stop accepting
    server.drain()
    server.server_close()  # join in-flight request threads
    thread.join()
    return 0


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    delay = float(os.environ.get("READY_DELAY", "0") or 0)
    started = time.monotonic()
    code = serve(port, ready_delay=delay)
    print(f"demo stopped after {time.monotonic() - started:.1f}s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
