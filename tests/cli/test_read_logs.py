"""``logs`` and ``exec``: containers' output read from the files the runtime writes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_read_world import World, container, world_fixture  # noqa: F401 - the world fixture

from reconciler.defaults import default_pod_template
from reconciler.runtime import PodSpec
from reconciler.runtime.layout import pod_runtime_dir, write_private_json
from reconciler.runtime.logs import LogWriter, current_log, keep_as_previous, previous_log
from reconciler.runtime.process import ProcessRuntime
from reconciler.store import PodRecord, pod_to_dict
from tests.polling import wait_until


def _runtime_files(world: World, pod: str, logs: dict[str, bytes]) -> None:
    """Write the pod record and container logs as the process runtime does."""
    write_private_json(
        pod_runtime_dir(world.state_dir, "default", pod) / "pod.json",
        {"containers": list(logs)},
    )
    for name, data in logs.items():
        writer = LogWriter(current_log(world.state_dir, "default", pod, name))
        writer.write(data)
        writer.close()


def test_logs_of_a_pod_with_tail(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """``logs POD`` prints the container's output; ``--tail N`` the last N lines."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa")
    _runtime_files(world, pod.name, {"web": b"one\ntwo\nthree\n"})
    assert world.cli("logs", pod.name) == 0
    assert capsys.readouterr().out == "one\ntwo\nthree\n"
    assert world.cli("logs", pod.name, "--tail", "2") == 0
    assert capsys.readouterr().out == "two\nthree\n"


def test_logs_previous_instance(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """``--previous`` reads the instance before the last restart."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa")
    _runtime_files(world, pod.name, {"web": b"crashed\n"})
    keep_as_previous(
        current_log(world.state_dir, "default", pod.name, "web"),
        previous_log(world.state_dir, "default", pod.name, "web"),
        max_files=3,
    )
    _runtime_files(world, pod.name, {"web": b"again\n"})
    assert world.cli("logs", pod.name, "-p") == 0
    assert capsys.readouterr().out == "crashed\n"


def test_logs_of_a_deployment_picks_a_pod_of_the_newest_rs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """``logs deployment/NAME`` uses a Ready pod of the newest ReplicaSet, and says which."""
    world.deployment()
    old = world.revision(image="web:1", replicas=1)
    new = world.revision(image="web:2", replicas=2)
    world.pod(old, "ooooo")
    world.pod(new, "bbbbb", ready=False)
    ready = world.pod(new, "ccccc")
    _runtime_files(world, ready.name, {"web": b"v2\n"})
    assert world.cli("logs", "deployment/web") == 0
    captured = capsys.readouterr()
    assert captured.out == "v2\n"
    assert captured.err == f"Found 2 pods, using pod/{ready.name}\n"


def test_logs_needs_a_container_for_multi_container_pods(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several containers and no -c: kubectl's error naming the choices; -c picks one."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa", containers=(container("a"), container("b")))
    _runtime_files(world, pod.name, {"a": b"from a\n", "b": b"from b\n"})
    assert world.cli("logs", pod.name) == 1
    assert capsys.readouterr().err == (
        f"error: a container name must be specified for pod {pod.name}, choose one of: [a b]\n"
    )
    assert world.cli("logs", pod.name, "-c", "b") == 0
    assert capsys.readouterr().out == "from b\n"


def test_logs_of_missing_pod(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown pod is kubectl's NotFound."""
    assert world.cli("logs", "nope") == 1
    assert capsys.readouterr().err == 'Error from server (NotFound): pods "nope" not found\n'


def _cli(world: World, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            argv[0],
            "--state-dir",
            os.fspath(world.state_dir),
            *argv[1:],
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.timeout(60)
def test_logs_and_exec_against_a_real_pod(world: World, tmp_path: Path) -> None:
    """A pod started by the real ProcessRuntime: ``logs`` shows its output, ``exec`` runs in
    its environment and returns the command's exit code."""
    world.deployment()
    rs = world.revision(replicas=1)
    name = f"{rs.name}-real1"
    code = (
        "import os, time; print('hello from', os.environ['POD_NAME'], flush=True); time.sleep(60)"
    )
    template = default_pod_template(
        {
            "metadata": {"labels": dict(rs.template["metadata"]["labels"])},
            "spec": {
                "containers": [
                    {"name": "web", "image": "web:1", "command": [sys.executable, "-c", code]}
                ],
                "terminationGracePeriodSeconds": 2,
            },
        }
    )
    spec = PodSpec(
        name=name,
        namespace="default",
        owner=rs.name,
        labels=dict(rs.template["metadata"]["labels"]),
        template=template,
        base_dir=tmp_path,
    )

    async def scenario() -> tuple[subprocess.CompletedProcess[str], ...]:
        runtime = ProcessRuntime(world.state_dir)
        try:
            await runtime.start_pod(spec)
            log = current_log(world.state_dir, "default", name, "web")
            await wait_until(lambda: log.exists() and b"hello" in log.read_bytes(), timeout=10)
            pod = next(p for p in runtime.pods() if p.name == name)
            world.store.replace_pods(
                [
                    PodRecord(
                        name=name,
                        namespace="default",
                        owner=rs.name,
                        deployment="web",
                        status=pod_to_dict(pod),
                        created_at=pod.created_at,
                        updated_at=time.time(),
                    )
                ]
            )
            logs = await asyncio.to_thread(_cli, world, "logs", "deployment/web")
            shell = "echo in $POD_NAME; exit 3"
            executed = await asyncio.to_thread(
                _cli, world, "exec", name, "-i", "-c", "web", "--", "sh", "-c", shell
            )
            return logs, executed
        finally:
            await runtime.close()

    logs, executed = asyncio.run(scenario())
    assert (logs.returncode, logs.stdout) == (0, f"hello from {name}\n")
    assert executed.stderr == "command terminated with exit code 3\n"  # kubectl's words
    assert (executed.returncode, executed.stdout) == (3, f"in {name}\n")
