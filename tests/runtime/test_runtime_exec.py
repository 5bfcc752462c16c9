"""exec in a pod: the container's env and working dir, exit codes, a pty, kubectl's errors."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from runtime_helpers import container, pod_of, pod_spec, py, run_with_runtime, wait_until

from reconciler.errors import NotFoundError, ReconcilerError
from reconciler.runtime.exec import exec_in_pod
from reconciler.runtime.process import ProcessRuntime

SLEEP = "import time; time.sleep(60)"
SHOW = (
    "import os, sys; "
    "print(os.getcwd(), os.environ['PORT_HTTP'], os.environ['GREETING'], sys.stdout.isatty())"
)


def run_exec(
    state_dir: Path, argv: list[str], *, tty: bool, container: str | None = None
) -> tuple[int, str]:
    read_fd, write_fd = os.pipe()
    stdin_r, stdin_w = os.pipe()
    os.close(stdin_w)
    try:
        code = exec_in_pod(
            state_dir,
            "default",
            "exec-1",
            container,
            argv,
            tty=tty,
            stdin_fd=stdin_r,
            stdout_fd=write_fd,
        )
    finally:
        os.close(write_fd)
        os.close(stdin_r)
    with os.fdopen(read_fd, "rb") as out:
        return code, out.read().decode()


def test_exec_runs_with_the_pods_env_and_workdir(state_dir: Path, tmp_path: Path) -> None:
    """exec sees the container's env (ports included) and working dir; exit codes pass through."""
    (tmp_path / "srv").mkdir()
    spec = container(
        ports=[{"containerPort": 80, "name": "http"}],
        env=[{"name": "GREETING", "value": "hello-$(POD_NAME)"}],
        workingDir="srv",
        **py(SLEEP),
    )
    sidecar = container("side", **py(SLEEP))

    async def scenario(rt: ProcessRuntime) -> int:
        await rt.start_pod(pod_spec("exec-1", spec, sidecar, base_dir=tmp_path))
        status = await wait_until(lambda: (p := pod_of(rt, "exec-1")) and p.ready and p)
        port = status.ports["http"]
        code, out = await asyncio.to_thread(run_exec, state_dir, ["python3", "-c", SHOW], tty=False)
        assert code == 0
        assert out == f"{tmp_path / 'srv'} {port} hello-exec-1 False\n"
        code, out = await asyncio.to_thread(
            run_exec,
            state_dir,
            ["python3", "-c", "raise SystemExit(7)"],
            tty=False,
            container="side",
        )
        assert code == 7
        return port

    run_with_runtime(state_dir, scenario)


def test_exec_with_a_tty(state_dir: Path, tmp_path: Path) -> None:
    """With tty the command runs on a pseudo-terminal and its output is copied back."""

    async def scenario(rt: ProcessRuntime) -> tuple[int, str]:
        spec = container(
            env=[{"name": "GREETING", "value": "hi"}],
            ports=[{"containerPort": 80, "name": "http"}],
            **py(SLEEP),
        )
        await rt.start_pod(pod_spec("exec-1", spec, base_dir=tmp_path))
        await wait_until(lambda: (p := pod_of(rt, "exec-1")) and p.ready)
        return await asyncio.to_thread(
            run_exec, state_dir, ["python3", "-c", SHOW + "; raise SystemExit(3)"], tty=True
        )

    code, out = run_with_runtime(state_dir, scenario)
    assert code == 3
    assert out.endswith("hi True\r\n")


def test_exec_errors_use_kubectls_words(state_dir: Path, tmp_path: Path) -> None:
    """Unknown pods and containers raise kubectl's errors; a missing executable is runc's
    message with exit code 126."""

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("exec-1", container(**py(SLEEP)), base_dir=tmp_path))
        await wait_until(lambda: (p := pod_of(rt, "exec-1")) and p.ready)
        with pytest.raises(NotFoundError, match='pods "nope" not found'):
            exec_in_pod(state_dir, "default", "nope", None, ["true"], tty=False)
        with pytest.raises(NotFoundError, match="container db is not valid for pod exec-1"):
            exec_in_pod(state_dir, "default", "exec-1", "db", ["true"], tty=False)
        read_fd, write_fd = os.pipe()
        try:
            code = exec_in_pod(
                state_dir, "default", "exec-1", None, ["no-such-xyz"], tty=False, stderr_fd=write_fd
            )
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as err:
            message = err.read().decode()
        assert code == 126
        assert message == (
            "OCI runtime exec failed: exec failed: unable to start container process: "
            'exec: "no-such-xyz": executable file not found in $PATH: unknown\n'
        )

    run_with_runtime(state_dir, scenario)


def test_names_that_could_escape_the_state_dir_are_refused(state_dir: Path) -> None:
    """Pod and namespace names are checked before they become paths."""
    with pytest.raises(ReconcilerError, match="invalid pod name"):
        exec_in_pod(state_dir, "default", "../../etc", None, ["true"], tty=False)
    with pytest.raises(ReconcilerError, match="invalid namespace name"):
        exec_in_pod(state_dir, "..", "web", None, ["true"], tty=False)
