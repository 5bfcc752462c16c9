"""The demo app: a real process that answers with its version and drains on SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.polling import wait_for
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    wait_for(listening, timeout=timeout, interval=0.02, what=f"something listening on {port}")


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
