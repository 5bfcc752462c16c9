"""Regression: a daemon killed between spawning a container and recording it leaks no process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.runtime.layout import pod_runtime_dir, write_private_json
from reconciler.runtime.records import clean_leftovers, process_start_time
from tests.e2e.harness import wait_for


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def spawn(pod: str, processes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "POD_NAME": pod, "POD_NAMESPACE": "default"}
    process = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    processes.append(process)
    return process


def test_unrecorded_container_of_a_crashed_daemon_is_killed(
    state_dir: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    """pod.json exists but no .proc.json: the process is found by its POD_NAME and killed."""
    pod = "web-5d8f7c9b4-x2q7z"
    write_private_json(
        pod_runtime_dir(state_dir, "default", pod) / "pod.json",
        {
            "name": pod,
            "namespace": "default",
            "containers": ["app"],
            "daemon": {"pid": os.getpid(), "start_time": process_start_time(os.getpid())},
        },
    )
    orphan = spawn(pod, spawned)
    stranger = spawn("web-5d8f7c9b4-other", spawned)
    killed = clean_leftovers(state_dir)
    assert killed == [orphan.pid]
    wait_for(lambda: orphan.poll() is not None, timeout=5, what="orphan killed")
    assert stranger.poll() is None  # a pod this state directory never started is left alone
