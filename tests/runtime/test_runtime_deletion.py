"""When termination began: recorded at stop, reported with the pod, kept across adoption.

The CLI turns it into the API's ``deletionTimestamp`` (begin + grace period); a daemon that
adopts a terminating pod must report the same moment, not the moment it was adopted.
"""

from __future__ import annotations

import time
from pathlib import Path

from runtime_helpers import container, pod_spec, py, run_with_runtime, wait_until

from reconciler.runtime import PodStatus
from reconciler.runtime.adopt import _restore, status_snapshot
from reconciler.runtime.container import Pod
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone

SLEEPER = "import time\nwhile True: time.sleep(0.05)\n"


def test_stop_records_when_termination_began(state_dir: Path, tmp_path: Path) -> None:
    """A running pod has no termination time; the first notice of its stop carries it."""
    spec = container(lifecycle={"preStop": {"sleep": {"seconds": 0.3}}}, **py(SLEEPER))
    seen: list[PodStatus] = []

    async def scenario(rt: ProcessRuntime) -> tuple[float, float]:
        await rt.start_pod(pod_spec("del-1", spec, base_dir=tmp_path))
        await wait_until(lambda: any(p.name == "del-1" for p in rt.pods()))
        assert all(p.terminating_since is None for p in rt.pods())
        rt.subscribe(seen.append)
        before = time.time()
        await rt.stop_pod("del-1")
        after = time.time()
        await wait_gone(rt, "del-1")
        return before, after

    before, after = run_with_runtime(state_dir, scenario)
    stopping = [s for s in seen if s.terminating]
    assert stopping, "no terminating notice"
    since = {s.terminating_since for s in stopping}
    assert len(since) == 1  # one moment, not re-stamped on every notice
    (moment,) = since
    assert moment is not None and before <= moment <= after


def test_adoption_keeps_the_moment_termination_began(tmp_path: Path) -> None:
    """status.json carries the moment; an older file without it is read from the deadline."""
    spec = pod_spec("del-2", container(**py(SLEEPER)), base_dir=tmp_path, grace=5)
    pod = Pod.create(spec, runtime_dir=tmp_path / "rt", logs_dir=tmp_path / "logs")
    pod.terminating, pod.terminating_since = True, time.time() - 2
    pod.stop_deadline = time.monotonic() + 3
    snapshot = status_snapshot(pod)
    adopted = Pod.create(spec, runtime_dir=tmp_path / "rt", logs_dir=tmp_path / "logs")
    _restore(adopted, snapshot)
    assert adopted.terminating and adopted.terminating_since == pod.terminating_since
    old = {k: v for k, v in snapshot.items() if k != "terminating_since"}
    older = Pod.create(spec, runtime_dir=tmp_path / "rt", logs_dir=tmp_path / "logs")
    _restore(older, old)
    assert older.terminating_since is not None
    assert abs(older.terminating_since - pod.terminating_since) < 0.5  # deadline - grace
