"""Storage faults under the state directory: a full disk and a read-only one.

The full disk is a real size-limited tmpfs (``mount -t tmpfs -o size=...``; the tests are
skipped where mounting is not permitted); the read-only database is injected (see that test).
With the disk full, or the database read-only, while a
manifest changes: the daemon keeps running, its pods keep their names and the Service keeps
answering with the last good version; it logs ``store_unwritable``; once the disk takes writes
again the change is rolled out without any new event, a ``StateStoreUnwritable`` event says what
happened, and no revision is lost.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.objects import Kind, ObjectRef
from reconciler.runtime.logs import LogWriter
from tests.e2e.harness import DaemonProcess, processes_with, wait_for
from tests.ports import free_port
from tests.reliability.fleet import Member, revisions, settled, wait_settled, write_fleet

pytestmark = [pytest.mark.e2e]


def _mount(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs, unmounted (lazily: pods may still hold files) after the test."""
    path = tmp_path / "state"
    _mount(path, "4m")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; delete it to give the space back."""
    filler = disk / "filler"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_log_writer_drops_output_on_a_full_disk_and_resumes(small_disk: Path) -> None:
    """A full disk never raises into the log pump; output written after space returns is kept."""
    writer = LogWriter(small_disk / "logs" / "app.log", max_bytes=1 << 20, max_files=2)
    filler = fill(small_disk)
    for _ in range(200):
        writer.write(b"x" * 1000 + b"\n")  # must not raise
    assert writer.dropped > 0
    filler.unlink()
    writer.write(b"after the disk was freed\n")
    writer.close()
    assert (small_disk / "logs" / "app.log").read_bytes().endswith(b"after the disk was freed\n")


def _fault_then_recover(
    folder: Path,
    disk: Path,
    token: str,
    *,
    fault: Callable[[], Callable[[], None]],
    daemon_args: tuple[str, ...] = (),
) -> None:
    daemon = DaemonProcess(folder, disk, *daemon_args)
    members = [Member("rolling", free_port())]
    try:
        write_fleet(folder, members, version=1, token=token)
        daemon.start()
        wait_settled(daemon, members, version=1, timeout=20)
        pods = {p.name for p in daemon.pods()}
        before = revisions(daemon, members)

        recover = fault()
        write_fleet(folder, members, version=2, token=token)
        wait_for(lambda: "store_unwritable" in daemon.log.read_text(), timeout=10, what="reported")
        # the fault lasts: several retries happen, the pods and the Service are untouched
        wait_for(
            lambda: daemon.log.read_text().count('"sync_failed"') >= 3,
            timeout=10,
            what="retries",
        )
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert {p.name for p in daemon.pods()} == pods
        assert settled(daemon, members[0], version=1)

        recover()
        wait_settled(daemon, members, version=2, timeout=30, what="after the disk recovered")
        after = revisions(daemon, members)
        assert before < after
        events = daemon.read(
            lambda s: [
                e.reason for e in s.list_events(ObjectRef(Kind.DEPLOYMENT, "default", "rolling"))
            ]
        )
        assert "StateStoreUnwritable" in events
        assert daemon.read(lambda s: s.integrity_check()) == "ok"
    finally:
        daemon.down()  # the daemon, the data plane and the pods (they outlive the daemon)
        wait_for(lambda: not processes_with(token), timeout=15, what="pods gone after down")


def test_full_disk_under_the_state_dir(folder: Path, small_disk: Path, token: str) -> None:
    """Disk full while a manifest changes: pods keep running; the change lands once freed."""

    def fault() -> Callable[[], None]:
        filler = fill(small_disk)
        return filler.unlink

    _fault_then_recover(folder, small_disk, token, fault=fault)


def test_read_only_state_database(folder: Path, tmp_path: Path, token: str) -> None:
    """Database read-only while a manifest changes: same guarantees as a full disk.

    Injected (``run --fault-file``, ``reconciler.store.faults``): a filesystem whose files are
    open for writing cannot be remounted read-only (EBUSY), and root ignores file modes.
    """
    switch = tmp_path / "read-only"

    def fault() -> Callable[[], None]:
        switch.write_text("attempt to write a readonly database")
        return switch.unlink

    _fault_then_recover(
        folder, tmp_path / "state", token, fault=fault, daemon_args=("--fault-file", str(switch))
    )
