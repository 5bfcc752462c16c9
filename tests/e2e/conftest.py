"""Fixtures for end-to-end tests: a manifests folder, a state dir, a daemon; no leftovers."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.proxy.dataplane import stop_dataplane
from tests.e2e.harness import DaemonProcess, processes_with, wait_for
from tests.ports import free_port as free_port  # e2e and web tests import it from here


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


@pytest.fixture
def token(tmp_path: Path) -> str:
    """A marker every pod of the test carries in its environment (to find leftovers).

    Unique per pytest session too (``pytest-N``): the test's name alone is the same in every
    session on the machine, and a concurrent session's teardown kills what carries its token.
    """
    return f"e2e-{tmp_path.parent.name}-{tmp_path.name}"


@pytest.fixture
def daemon(folder: Path, tmp_path: Path, token: str) -> Iterator[DaemonProcess]:
    process = DaemonProcess(folder, tmp_path / "state")
    yield process
    try:
        process.stop()  # SIGTERM: the pods and the data plane outlive the daemon
    finally:
        if any((process.state / "runtime").glob("*/*")):
            process.down()  # daemon, data plane and pods
        else:
            stop_dataplane(process.state, drain=2.0)
    try:
        wait_for(lambda: not processes_with(token), timeout=15, what="pods gone after stop")
    finally:
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)
    assert process.dataplane_pid() is None, "a data plane outlived the test"


pytestmark = pytest.mark.e2e
