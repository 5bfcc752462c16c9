"""Crash safety: ``kill -9`` of the daemon at seeded random moments of rollouts of every strategy.

After each restart: the new daemon adopted the old one's pods (an old process still alive runs
under the same pod name, none was restarted), no process is orphaned or duplicated (every live
pod has exactly one process, no process lacks a live pod), the database passes
``PRAGMA integrity_check``, every revision recorded before the kill is still there, every
rollout completes on the newest version, and every Service answers with it. The soak
(``bench/soak/soak.py crash``) runs the same loop 50 times.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.e2e.harness import DaemonProcess
from tests.ports import free_port
from tests.reliability.fleet import (
    STRATEGIES,
    Member,
    pod_processes,
    processes_match_pods,
    restart,
    revisions,
    wait_settled,
    write_fleet,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = int(os.environ.get("RELIABILITY_SEED", "20240807"))
ITERATIONS = int(os.environ.get("RELIABILITY_CRASH_ITERATIONS", "5"))


def renamed(old: dict[int, str], token: str) -> dict[int, tuple[str, str]]:
    """Old pod processes still alive under another pod name (adoption must keep the name)."""
    now = pod_processes(token)
    return {pid: (name, now[pid]) for pid, name in old.items() if pid in now and now[pid] != name}


def warnings(daemon: DaemonProcess) -> list[str]:
    """The daemon's warning and error lines (what a failure message needs)."""
    return [
        line[:300]
        for line in daemon.log.read_text(errors="replace").splitlines()
        if '"level": "warning"' in line or '"level": "error"' in line
    ][:10]


def crash_iteration(
    daemon: DaemonProcess,
    folder: Path,
    members: list[Member],
    *,
    token: str,
    version: int,
    rng: random.Random,
    attempt: int,
) -> dict[str, object]:
    """Edit every Deployment, kill -9 the daemon at a random moment, restart, check everything."""
    write_fleet(folder, members, version=version, token=token)
    # The kill moment is the test's input (seeded), not a wait for something to happen.
    delay = rng.uniform(0.0, 1.5)
    time.sleep(delay)
    old = pod_processes(token)
    daemon.kill()
    before = revisions(daemon, members)
    assert daemon.read(lambda s: s.integrity_check()) == "ok"

    restart(daemon, attempt=attempt)
    # the new daemon adopted the old one's pods: the same processes under the same names
    assert renamed(old, token) == {}
    adopted = set(old) & set(pod_processes(token))
    wait_settled(daemon, members, version=version, what=f"after a crash {delay:.2f}s in")
    mismatch = "?"
    deadline = time.monotonic() + 10
    while mismatch and time.monotonic() < deadline:
        mismatch = processes_match_pods(daemon, token)
        time.sleep(0.05)
    assert not mismatch, f"pods and processes differ after a crash {delay:.2f}s in: {mismatch}"
    restarted = [
        (p.name, p.restarts, [(c.last_reason, c.last_exit_code) for c in p.containers])
        for p in daemon.pods()
        if p.restarts
    ]
    assert restarted == [], (
        f"pods restarted over a crash {delay:.2f}s in: {restarted}; "
        f"the daemon's warnings: {warnings(daemon)}"
    )
    after = revisions(daemon, members)
    lost = before - after
    assert not lost, f"revisions lost over the crash: {sorted(lost)}"
    assert daemon.read(lambda s: s.integrity_check()) == "ok"
    return {
        "delay": delay,
        "old_pods": len(old),
        "adopted": len(adopted),
        "revisions": len(after),
    }


def test_kill_9_at_random_moments_of_every_strategy(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Seeded kill -9 mid-rollout, 4 strategies at once: nothing leaked, lost or left undone."""
    members = [Member(name, free_port()) for name in STRATEGIES]
    write_fleet(folder, members, version=1, token=token)
    daemon.start()
    wait_settled(daemon, members, version=1, what="before any crash")
    rng = random.Random(SEED)
    for attempt in range(ITERATIONS):
        crash_iteration(
            daemon, folder, members, token=token, version=attempt + 2, rng=rng, attempt=attempt
        )
