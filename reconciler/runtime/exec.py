"""``exec``: run a command in a pod's environment, with or without a pseudo-terminal.

A local "container" shares the host's other namespaces, so exec means: the same environment
(``PORT``, ``POD_NAME``, the container's ``env``...) and working directory the container was
started with, inside its mount namespace when it has volumes (``isolation.nsenter``). The
runtime saves both (0600) when it starts the container, so this works from the CLI process
without talking to the daemon. With ``tty`` the command gets a pseudo-terminal and the
caller's terminal is put in raw mode while it runs, as ``kubectl exec -it`` does.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import subprocess
import termios
import tty as tty_mode
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.runtime import shim
from reconciler.runtime.isolation.nsenter import join_mount_namespace
from reconciler.runtime.layout import container_file, pod_runtime_dir, read_json
from reconciler.runtime.logs import resolve_container
from reconciler.runtime.supervisor import ShimRecord


def exec_environment(
    state_dir: Path, namespace: str, pod: str, container: str | None
) -> tuple[str, dict[str, str], Path]:
    """(container name, env, working dir) the container runs with; NotFoundError if unknown."""
    name = resolve_container(state_dir, namespace, pod, container)
    saved = read_json(container_file(pod_runtime_dir(state_dir, namespace, pod), name, ".env.json"))
    if not isinstance(saved, dict) or not isinstance(saved.get("env"), dict):
        raise ReconcilerError(
            f"error: unable to upgrade connection: container not found ({name!r} has not started)"
        )
    env = {str(k): str(v) for k, v in saved["env"].items()}
    return name, env, Path(str(saved.get("cwd") or state_dir))


def exec_in_pod(
    state_dir: Path,
    namespace: str,
    pod: str,
    container: str | None,
    argv: list[str],
    *,
    tty: bool,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    stderr_fd: int = 2,
) -> int:
    """Run ``argv`` like ``kubectl exec [-it] pod [-c container] -- argv``; its exit code.

    A command that cannot be started gives runc's message on ``stderr_fd`` and exit code 126,
    as ``kubectl exec`` shows them. Raises NotFoundError (``pods "x" not found``, ``container
    y is not valid for pod x``).
    """
    if not argv:
        raise ReconcilerError("error: you must specify at least one command for the container")
    name, env, cwd = exec_environment(state_dir, namespace, pod, container)
    # the container's mounts (its volumes at their mountPath) before anything is looked up
    record = ShimRecord.load(
        container_file(pod_runtime_dir(state_dir, namespace, pod), name, shim.SHIM)
    )
    if record is not None:
        join_mount_namespace(record.child_pid, start_time=record.child_start, boot=record.boot_id)
    failure = _start_failure(argv[0], env=env, cwd=cwd)
    if failure is not None:
        # what the container runtime writes on the exec's stderr stream; kubectl then reports
        # the exit code 126 the runtime gives a command that could not be started
        os.write(stderr_fd, f"{OCI_EXEC_FAILED}: {failure}: unknown\n".encode())
        return EXIT_CANNOT_EXECUTE
    program = _program(argv[0], env=env, cwd=cwd)
    if not tty:
        completed = subprocess.run(
            [program, *argv[1:]], env=env, cwd=cwd, stdin=stdin_fd, stdout=stdout_fd, check=False
        )
        return exit_code_of(completed.returncode)
    return _run_with_pty([program, *argv[1:]], env=env, cwd=cwd, stdin_fd=stdin_fd, out=stdout_fd)


OCI_EXEC_FAILED = "OCI runtime exec failed: exec failed: unable to start container process"
EXIT_CANNOT_EXECUTE = 126  # runc: the command was found but could not run, or was not found


def exit_code_of(returncode: int) -> int:
    """A container's exit code for a process result: a signal N is 128 + N, as runtimes say.

    >>> exit_code_of(3), exit_code_of(-9)
    (3, 137)
    """
    return 128 - returncode if returncode < 0 else returncode


def _program(word: str, *, env: dict[str, str], cwd: Path) -> str:
    if "/" in word:
        return word if os.path.isabs(word) else os.fspath(cwd / word)
    return shutil.which(word, path=env.get("PATH")) or word


def _start_failure(word: str, *, env: dict[str, str], cwd: Path) -> str | None:
    """Why ``word`` cannot be started, in runc's words (``exec: "x": executable file not found
    in $PATH``, ``exec: "/etc/passwd": permission denied``), or None."""
    if "/" not in word:
        if shutil.which(word, path=env.get("PATH")) is None:
            return f'exec: "{word}": executable file not found in $PATH'
        return None
    path = Path(word) if os.path.isabs(word) else cwd / word
    if not path.exists():
        return f'exec: "{word}": stat {word}: no such file or directory'
    if path.is_dir() or not os.access(path, os.X_OK):
        return f'exec: "{word}": permission denied'
    return None


def _run_with_pty(
    argv: list[str], *, env: dict[str, str], cwd: Path, stdin_fd: int, out: int
) -> int:
    pid, master = pty.fork()
    if pid == 0:  # the child: its stdio is the pty's slave end
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    saved = None
    if os.isatty(stdin_fd):
        saved = termios.tcgetattr(stdin_fd)
        tty_mode.setraw(stdin_fd)
    try:
        _copy(master, stdin_fd, out)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSAFLUSH, saved)
        os.close(master)
    _, status = os.waitpid(pid, 0)
    return exit_code_of(os.waitstatus_to_exitcode(status))


def _copy(master: int, stdin_fd: int, out: int) -> None:
    """Shuttle bytes: caller's stdin → pty, pty → caller's stdout, until the pty closes."""
    inputs = [master, stdin_fd]
    while True:
        readable, _, _ = select.select(inputs, [], [])
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child side closed
                data = b""
            if not data:
                return
            os.write(out, data)
        if stdin_fd in readable:
            data = os.read(stdin_fd, 65536)
            if data:
                os.write(master, data)
            else:
                inputs.remove(stdin_fd)
                with contextlib.suppress(OSError):
                    os.write(master, b"\x04")  # end of input for the terminal's reader


__all__ = ["EXIT_CANNOT_EXECUTE", "exec_environment", "exec_in_pod", "exit_code_of"]
