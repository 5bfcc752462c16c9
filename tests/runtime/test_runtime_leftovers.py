"""A daemon killed with -9 leaves processes behind; the next runtime's start() stops them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime_helpers import pid_alive, wait_until

from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.records import ProcessRecord, clean_leftovers

DAEMON = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {helpers!r})
from runtime_helpers import container, pod_spec, wait_until, pod_of
from reconciler.runtime.process import ProcessRuntime

async def main():
    rt = ProcessRuntime(Path({state!r}))
    await rt.start()
    for name in ("left-1", "left-2"):
        spec = container(command=["python3", {tree!r}, {pids!r}], ports=[{{"containerPort": 80}}])
        await rt.start_pod(pod_spec(name, spec, base_dir=Path({base!r})))
    await wait_until(lambda: sum(p.ready for p in rt.pods()) == 2)
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""

TREE = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1], "a") as out:
    out.write(f"{os.getpid()} {kid.pid}\\n")
time.sleep(60)
"""


def test_leftovers_of_a_killed_daemon_are_stopped_by_the_next_start(
    state_dir: Path, tmp_path: Path
) -> None:
    """kill -9 of the owning daemon leaves the pods' trees alive; start() kills them all."""
    pids_file = tmp_path / "pids"
    tree = tmp_path / "tree.py"
    tree.write_text(TREE)
    script = DAEMON.format(
        helpers=str(Path(__file__).parent),
        state=str(state_dir),
        tree=str(tree),
        pids=str(pids_file),
        base=str(tmp_path),
    )
    daemon = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:  # the runtime logs to stdout too
            if line.strip() == "ready":
                break
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            not pids_file.exists() or len(pids_file.read_text().split()) < 4
        ):
            time.sleep(0.01)
    finally:
        daemon.kill()
        daemon.wait()
    leftovers = [int(p) for p in pids_file.read_text().split()]
    assert len(leftovers) == 4 and all(pid_alive(p) for p in leftovers)
    records = sorted((state_dir / "runtime").glob("*/*/*.proc.json"))
    assert len(records) == 2
    assert all(r.stat().st_mode & 0o777 == 0o600 for r in records)
    for folder in ("runtime", "runtime/default", "logs", "logs/default", "logs/default/left-1"):
        assert (state_dir / folder).stat().st_mode & 0o777 == 0o700, folder
    ports = [
        json.loads(p.read_text())["ports"]["80"]
        for p in (state_dir / "runtime").glob("*/*/pod.json")
    ]

    async def restart() -> None:
        runtime = ProcessRuntime(state_dir)
        await runtime.start()
        await wait_until(lambda: not any(pid_alive(p) for p in leftovers))
        await runtime.close()

    asyncio.run(restart())
    assert not (state_dir / "runtime").exists() or not list((state_dir / "runtime").iterdir())
    assert not list((state_dir / "logs").glob("*/*"))
    assert len(ports) == 2


def test_a_reused_pid_is_not_killed(state_dir: Path) -> None:
    """A record whose pid now belongs to a process with another start time is left alone."""
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        real = ProcessRecord.of(bystander.pid)
        forged = ProcessRecord(
            pid=real.pid, pgid=real.pid, start_time=real.start_time - 1, boot_id=real.boot_id
        )
        forged.save(state_dir / "runtime" / "default" / "old-1" / "app.proc.json")
        clean_leftovers(state_dir)
        assert bystander.poll() is None
        assert not (state_dir / "runtime").exists()
    finally:
        os.kill(bystander.pid, signal.SIGKILL)
        bystander.wait()
