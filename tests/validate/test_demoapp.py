"""The demo app: a real process that answers with its version and drains on SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listening on {port}")


def test_answers_version_keeps_alive_and_drains_on_sigterm() -> None:
    """GET / names version and pod over one keep-alive connection; SIGTERM exits 0."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "IMAGE_TAG": "v7", "POD_NAME": "web-abc",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "reconciler.demoapp"], env=env,
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_listening(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"demo v7 web-abc\n"
        conn.request("GET", "/healthz")  # the same connection: keep-alive
        assert conn.getresponse().status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
