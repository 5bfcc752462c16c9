"""The folder watcher: real watchdog events on a real folder, coalesced and filtered."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from reconciler.folder.files import is_manifest_path, scan
from reconciler.folder.watch import FolderWatcher


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param("web.yaml", True, id="yaml"),
        pytest.param("sub/web.yml", True, id="yml in a sub-folder"),
        pytest.param(".web.yaml.swp", False, id="vim swap"),
        pytest.param("web.yaml~", False, id="backup"),
        pytest.param(".hidden/web.yaml", False, id="hidden folder"),
        pytest.param("web.yaml.tmp", False, id="temporary"),
        pytest.param("#web.yaml#", False, id="emacs autosave"),
        pytest.param("README.md", False, id="not a manifest"),
    ],
)
def test_manifest_paths_are_recognised(tmp_path: Path, relative: str, expected: bool) -> None:
    """Only visible *.yaml/*.yml files count; editors' temporary files never do."""
    assert is_manifest_path(tmp_path / relative, tmp_path) is expected


def test_scan_finds_nested_manifests_and_survives_symlink_loops(tmp_path: Path) -> None:
    """A recursive scan lists manifests sorted and does not follow a folder symlink loop."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.yaml").write_text("")
    (tmp_path / "a.yml").write_text("")
    (tmp_path / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [p.relative_to(tmp_path).as_posix() for p in scan(tmp_path)] == ["a.yml", "b/x.yaml"]


async def _watch(tmp_path: Path, action: object, *, expect: int, quiet: float = 0.4) -> int:
    calls: list[int] = []
    changed = asyncio.Event()

    async def on_change() -> None:
        calls.append(1)
        changed.set()

    watcher = FolderWatcher(tmp_path, on_change, debounce=0.1, resync=3600)
    await watcher.start()
    try:
        await asyncio.to_thread(action)  # type: ignore[arg-type]
        if expect:
            await asyncio.wait_for(changed.wait(), timeout=5)
        await asyncio.sleep(quiet)  # nothing more may arrive: the debounce must have coalesced
    finally:
        await watcher.stop()
    return len(calls)


def test_an_editor_save_is_one_change(tmp_path: Path) -> None:
    """Write a temp file, fsync, rename over the manifest, touch: one sync, not four."""
    target = tmp_path / "web.yaml"
    target.write_text("a: 1\n")

    def save() -> None:
        tmp = tmp_path / ".web.yaml.swp"
        tmp.write_text("a: 2\n")
        os.replace(tmp, target)
        target.touch()

    assert asyncio.run(_watch(tmp_path, save, expect=1)) == 1


def test_temporary_files_do_not_trigger_a_sync(tmp_path: Path) -> None:
    """Swap and backup files come and go without a sync."""

    def noise() -> None:
        (tmp_path / ".x.yaml.swp").write_text("x")
        (tmp_path / "x.yaml~").write_text("x")
        (tmp_path / "notes.txt").write_text("x")

    assert asyncio.run(_watch(tmp_path, noise, expect=0)) == 0


def test_deleting_a_folder_of_manifests_triggers_a_sync(tmp_path: Path) -> None:
    """A folder that disappears (rm -r, unmount) must be looked at."""
    sub = tmp_path / "team"
    sub.mkdir()
    (sub / "a.yaml").write_text("a: 1\n")

    def remove() -> None:
        (sub / "a.yaml").unlink()
        sub.rmdir()

    assert asyncio.run(_watch(tmp_path, remove, expect=1)) == 1


def test_a_file_written_in_place_in_two_goes_is_synced_once_after_its_close(
    tmp_path: Path,
) -> None:
    """Half a file is never handed on: the one sync comes after the writer closes the file."""
    target = tmp_path / "web.yaml"
    target.write_text("a: 1\n")

    async def scenario() -> tuple[list[str], float]:
        seen: list[str] = []

        async def on_change() -> None:
            seen.append(target.read_text())

        watcher = FolderWatcher(tmp_path, on_change, debounce=0.05, resync=3600, settle=5.0)
        await watcher.start()
        try:
            with open(target, "w") as out:  # truncates: the file is half-written from here
                out.write("a: 2\n")
                out.flush()
                await asyncio.sleep(0.4)  # longer than the debounce: an event-only watcher syncs
                assert seen == []
                out.write("b: 2\n")
            loop = asyncio.get_running_loop()
            closed = loop.time()
            while not seen and loop.time() - closed < 5:
                await asyncio.sleep(0.01)
            waited = loop.time() - closed
            await asyncio.sleep(0.3)
            assert target.resolve() in watcher.unsettled()  # written in place a moment ago
        finally:
            await watcher.stop()
        return seen, waited

    seen, waited = asyncio.run(scenario())
    assert seen == ["a: 2\nb: 2\n"]
    assert waited < 1.0  # the close completes the write: no settle wait


def test_a_writer_that_never_closes_is_synced_after_the_settle_period(tmp_path: Path) -> None:
    """Modified and left open: the sync comes once the file was quiet for `settle` seconds."""
    target = tmp_path / "web.yaml"
    target.write_text("a: 1\n")

    async def scenario() -> float:
        synced = asyncio.Event()

        async def on_change() -> None:
            synced.set()

        watcher = FolderWatcher(tmp_path, on_change, debounce=0.05, resync=3600, settle=0.6)
        await watcher.start()
        out = open(target, "w")  # noqa: SIM115 - held open on purpose
        try:
            out.write("a: 2\n")
            out.flush()
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(synced.wait(), timeout=5)
            return asyncio.get_running_loop().time() - started
        finally:
            out.close()
            await watcher.stop()

    assert asyncio.run(scenario()) >= 0.5


def test_a_rename_over_the_file_is_complete_and_not_unsettled(tmp_path: Path) -> None:
    """An atomic save (rename) syncs after the debounce and holds no deletion back."""
    target = tmp_path / "web.yaml"
    target.write_text("a: 1\n")

    async def scenario() -> tuple[float, frozenset[Path]]:
        synced = asyncio.Event()

        async def on_change() -> None:
            synced.set()

        watcher = FolderWatcher(tmp_path, on_change, debounce=0.05, resync=3600, settle=5.0)
        await watcher.start()
        try:
            tmp = tmp_path / ".web.yaml.tmp"
            tmp.write_text("a: 2\n")
            started = asyncio.get_running_loop().time()
            os.replace(tmp, target)
            await asyncio.wait_for(synced.wait(), timeout=5)
            return asyncio.get_running_loop().time() - started, watcher.unsettled()
        finally:
            await watcher.stop()

    waited, unsettled = asyncio.run(scenario())
    assert waited < 1.0
    assert target.resolve() not in unsettled


def test_a_file_replaced_in_a_loop_does_not_starve_the_sync(tmp_path: Path) -> None:
    """A writer renaming onto a manifest every few ms: syncs still run while it goes on."""

    async def main() -> int:
        calls: list[int] = []
        two = asyncio.Event()

        async def on_change() -> None:
            calls.append(1)
            if len(calls) >= 2:
                two.set()

        watcher = FolderWatcher(tmp_path, on_change, debounce=0.1, resync=3600)
        await watcher.start()
        stop = asyncio.Event()

        def replace_in_a_loop() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                tmp = tmp_path / ".web.yaml.tmp"
                tmp.write_text(f"n: {n}\n")
                tmp.replace(tmp_path / "web.yaml")

        writer = asyncio.create_task(asyncio.to_thread(replace_in_a_loop))
        try:
            # each event pushes the debounce back; only its cap lets a sync through
            await asyncio.wait_for(two.wait(), timeout=10)
        finally:
            stop.set()
            await writer
            await watcher.stop()
        return len(calls)

    assert asyncio.run(main()) >= 2


def test_a_change_in_every_loop_iteration_does_not_cancel_the_due_sync(tmp_path: Path) -> None:
    """Changes arriving faster than the loop turns (a sync keeps it busy, the observer thread
    queues events meanwhile): the sync that is due runs, it is not rescheduled by each one."""
    (tmp_path / "web.yaml").write_text("n: 0\n")

    async def main() -> int:
        calls: list[int] = []
        synced = asyncio.Event()

        async def on_change() -> None:
            calls.append(1)
            synced.set()

        watcher = FolderWatcher(tmp_path, on_change, debounce=0.05, resync=3600)
        await watcher.start()

        async def storm() -> None:  # one change per turn of the loop, before its timers run
            while not synced.is_set():
                watcher._touched("moved", tmp_path / "web.yaml")
                await asyncio.sleep(0)

        try:
            await asyncio.wait_for(storm(), timeout=5)
        finally:
            await watcher.stop()
        return len(calls)

    assert asyncio.run(main()) >= 1


def test_editing_commands_see_the_files_the_watcher_syncs(tmp_path: Path) -> None:
    """apply/delete/edit walk exactly the manifest files the watcher and sync use (one rule)."""
    from reconciler.folder.files import iter_manifest_files

    for relative in ("a.yaml", "sub/b.yml", "web.yaml.bak", "web.yaml.orig", ".h/c.yaml", "#x#"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    assert sorted(iter_manifest_files(tmp_path)) == list(scan(tmp_path))
    assert [p.relative_to(tmp_path).as_posix() for p in scan(tmp_path)] == ["a.yaml", "sub/b.yml"]
