"""Fixtures for the web tests: a daemon serving HTTP on a free port, a webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import DaemonProcess, processes_with, wait_for


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


@pytest.fixture
def token(tmp_path: Path) -> str:
    """A marker every pod of the test carries in its environment (to find leftovers); unique
    per pytest session too, or a concurrent session's teardown would kill this one's pods."""
    return f"web-{tmp_path.parent.name}-{tmp_path.name}"


@pytest.fixture
def start_daemon(
    folder: Path, tmp_path: Path, token: str
) -> Iterator[Callable[..., DaemonProcess]]:
    """Start ``reconciler run --http 127.0.0.1:0 [ARGS]``; stopped (and checked) afterwards."""
    started: list[DaemonProcess] = []

    def start(*args: str) -> DaemonProcess:
        process = DaemonProcess(folder, tmp_path / "state", "--http", "127.0.0.1:0", *args)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.down()  # the pods and the data plane outlive the daemon: `down` stops them too
    try:
        wait_for(lambda: not processes_with(token), timeout=15, what="pods gone after down")
    finally:
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)
    assert all(p.dataplane_pid() is None for p in started), "a data plane outlived the test"


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body, answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                receiver.bodies.append(body)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, deployment: str | None = None) -> list[str]:
        return [b["event"] for b in self.bodies if deployment in (None, b["deployment"])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


pytestmark = pytest.mark.e2e
