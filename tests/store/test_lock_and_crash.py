"""One daemon per state directory, and a crash at any instant keeps the last commit.

Both use real child processes: the lock is an flock held by another process, and the crash is
a SIGKILL while the child commits transactions in a loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.errors import StateDirError
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.store import Store
    store = Store.open(Path(sys.argv[1]))
    store.lock_daemon()
    print("locked", flush=True)
    sys.stdin.read()  # hold until the parent closes our stdin
    store.close()
    """
)

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.objects import Kind, ObjectRef
    from reconciler.store import Store
    store = Store.open(Path(sys.argv[1]))
    ref = ObjectRef(Kind.DEPLOYMENT, "default", "web")
    n = 0
    while True:
        n += 1
        template = {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": f"demo:{n}"}]}}
        with store.transaction():
            store.put_object(ref=ref, manifest={"n": n}, spec={"spec": {"n": n}},
                             source="web.yaml", line=1, digest=str(n), now=float(n))
            store.record_revision(ref, template, change_cause=f"write {n}", now=float(n))
            store.add_event(ref, type="Normal", reason="Wrote", message=str(n), now=float(n))
        print(n, flush=True)
    """
)


def _spawn(script: str, state_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, os.fspath(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read_line(proc: subprocess.Popen[str]) -> str:
    """The child's next line (it prints promptly; pytest-timeout bounds a hung child)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"child exited with {proc.wait(timeout=5)}")
    return line.strip()


def test_second_daemon_is_refused_with_the_holders_pid(state_dir: Path) -> None:
    """While one process holds the daemon lock, another gets an error naming its pid."""
    holder = _spawn(HOLDER, state_dir)
    try:
        assert _read_line(holder) == "locked"
        with Store.open(state_dir) as store:
            assert store.daemon_pid() == holder.pid
            with pytest.raises(StateDirError) as caught:
                store.lock_daemon()
        assert str(caught.value) == (
            f"error: another reconciler daemon (pid {holder.pid}) holds state directory {state_dir}"
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    # the lock died with its holder: now we can take it
    with Store.open(state_dir) as store:
        assert store.daemon_pid() is None
        store.lock_daemon()
        assert store.daemon_pid() == os.getpid()


def test_lock_of_a_killed_daemon_is_free(state_dir: Path) -> None:
    """A SIGKILLed daemon leaves no stale lock behind."""
    holder = _spawn(HOLDER, state_dir)
    assert _read_line(holder) == "locked"
    holder.kill()
    holder.wait(timeout=10)
    with Store.open(state_dir) as store:
        assert store.daemon_pid() is None
        store.lock_daemon()


def test_killed_mid_write_keeps_the_last_committed_state(state_dir: Path) -> None:
    """SIGKILL during a stream of transactions: integrity ok, the last commit is all there."""
    Store.open(state_dir).close()  # migrate first, so the child only writes data
    writer = _spawn(WRITER, state_dir)
    try:
        last = 0
        while last < 40:
            last = int(_read_line(writer))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
    ref = ObjectRef(Kind.DEPLOYMENT, "default", "web")
    with Store.open(state_dir) as store:
        assert store.integrity_check() == "ok"
        obj = store.get_object(ref)
        assert obj is not None
        n = obj.manifest["n"]
        # the child may have committed one more after printing; never fewer than printed
        assert n >= last
        rows = store.list_replicasets(ref)
        assert len(rows) == n  # the object and its revision were one transaction
        assert rows[-1].revision == n and rows[-1].change_cause == f"write {n}"
        assert store.list_events(ref)[-1].message == str(n)
