"""Container logs: rotation by size, tail, previous instance, follow across rotation and end."""

from __future__ import annotations

import asyncio
import stat
import threading
from pathlib import Path

import pytest
from runtime_helpers import container, pod_of, pod_spec, py, run_with_runtime, wait_until

from reconciler.errors import NotFoundError
from reconciler.runtime.logs import LogWriter, follow_log, read_log
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone


def test_writer_rotates_by_size_and_keeps_max_files(tmp_path: Path) -> None:
    """Past max_bytes the files shift (.log → .log.1 → .log.2); older ones are dropped."""
    path = tmp_path / "app.log"
    writer = LogWriter(path, max_bytes=100, max_files=3)
    for i in range(40):
        writer.write(f"line {i:03d}\n".encode())  # 9 bytes a line
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["app.log", "app.log.1", "app.log.2"]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())
    # whole lines per file, newest last
    assert path.read_text().splitlines()[-1] == "line 039"
    assert (tmp_path / "app.log.1").read_text().endswith("\n")


def logger_pod(count: int, *, then_sleep: bool = True, marker: str = "line") -> dict[str, object]:
    code = (
        "import sys, time\n"
        f"for i in range({count}): print(f'{marker} {{i:04d}}', flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\n"
    )
    if then_sleep:
        code += "time.sleep(60)\n"
    return container(**py(code))


def test_stdout_and_stderr_both_land_in_the_log(state_dir: Path, tmp_path: Path) -> None:
    """A container's stdout and stderr both go to its log file."""

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("talk-1", logger_pod(500), base_dir=tmp_path))
        await wait_until(lambda: "to stderr" in read_log(state_dir, "default", "talk-1", "app"))

    run_with_runtime(state_dir, scenario, log_max_bytes=1000, log_max_files=3)


def test_read_log_tail_previous_and_errors(state_dir: Path, tmp_path: Path) -> None:
    """tail counts lines across rotated files; -p reads the instance before the restart."""
    spec = container(
        **py("import time; print('start', time.time(), flush=True); raise SystemExit(1)")
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("talk-2", logger_pod(300), base_dir=tmp_path))
        await rt.start_pod(pod_spec("crash-2", spec, base_dir=tmp_path))
        await wait_until(lambda: "to stderr" in read_log(state_dir, "default", "talk-2", None))
        whole = read_log(state_dir, "default", "talk-2", "app")
        # 1000-byte files x 3 keep the last ~3000 bytes: the first lines are gone
        assert "line 0000" not in whole and whole.endswith("line 0299\nto stderr\n")
        logs_dir = state_dir / "logs/default/talk-2"
        assert sorted(p.name for p in logs_dir.iterdir()) == ["app.log", "app.log.1", "app.log.2"]
        tail = read_log(state_dir, "default", "talk-2", "app", tail=3)
        assert tail == "line 0298\nline 0299\nto stderr\n"
        assert read_log(state_dir, "default", "talk-2", "app", tail=0) == ""

        await wait_until(lambda: (p := pod_of(rt, "crash-2")) and p.restarts >= 1)
        await wait_until(lambda: "start" in read_log(state_dir, "default", "crash-2", "app"))
        previous = read_log(state_dir, "default", "crash-2", "app", previous=True)
        current = read_log(state_dir, "default", "crash-2", "app")
        assert previous.startswith("start") and current.startswith("start")
        assert previous != current
        with pytest.raises(NotFoundError, match='previous terminated container "app" in pod'):
            read_log(state_dir, "default", "talk-2", "app", previous=True)

    run_with_runtime(state_dir, scenario, log_max_bytes=1000, log_max_files=3, backoff_initial=5)
    with pytest.raises(NotFoundError, match='pods "talk-2" not found'):
        read_log(state_dir, "default", "talk-2", "app")


def test_read_log_names_unknown_containers_like_kubectl(state_dir: Path, tmp_path: Path) -> None:
    """An unknown container gets kubectl's message."""

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("talk-3", logger_pod(1), base_dir=tmp_path))
        with pytest.raises(NotFoundError, match="container nope is not valid for pod talk-3"):
            read_log(state_dir, "default", "talk-3", "nope")

    run_with_runtime(state_dir, scenario)


def test_follow_yields_new_lines_across_rotation_until_the_pod_is_gone(
    state_dir: Path, tmp_path: Path
) -> None:
    """follow_log streams every line in order through rotations and ends when the pod is gone."""
    code = (
        "import sys, time\n"
        "for i in range(200):\n"
        "    print(f'n {i:04d}', flush=True)\n"
        "    if i % 20 == 0: time.sleep(0.01)\n"
        "time.sleep(60)\n"
    )
    lines: list[str] = []
    finished = threading.Event()

    def reader() -> None:
        for line in follow_log(state_dir, "default", "follow-1", "app", poll_interval=0.01):
            lines.append(line)
        finished.set()

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("follow-1", container(**py(code)), base_dir=tmp_path))
        await wait_until(lambda: (state_dir / "logs/default/follow-1/app.log").exists())
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        await wait_until(lambda: len(lines) >= 200, timeout=10)
        assert not finished.is_set()
        await rt.stop_pod("follow-1")
        await wait_gone(rt, "follow-1")
        await asyncio.to_thread(finished.wait, 5)
        assert finished.is_set()

    run_with_runtime(state_dir, scenario, log_max_bytes=300, log_max_files=2)
    # rotation keeps only the last ~600 bytes on disk, but the follower saw every line
    assert lines == [f"n {i:04d}\n" for i in range(200)]


def test_follow_with_tail_and_stop(state_dir: Path, tmp_path: Path) -> None:
    """follow_log starts with the last N lines and ends when stop() says so."""

    async def scenario(rt: ProcessRuntime) -> list[str]:
        await rt.start_pod(pod_spec("follow-2", logger_pod(10), base_dir=tmp_path))
        await wait_until(lambda: "to stderr" in read_log(state_dir, "default", "follow-2", "app"))
        stream = follow_log(
            state_dir, "default", "follow-2", None, tail=2, stop=lambda: True, poll_interval=0.01
        )
        return await asyncio.to_thread(list, stream)

    assert run_with_runtime(state_dir, scenario) == ["line 0009\n", "to stderr\n"]
