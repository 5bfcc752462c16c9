"""The store used from a worker thread while the loop is inside a transaction on it.

``Executor._change_cause`` runs in a worker thread (``asyncio.to_thread``: it reads the manifest
file, which may block) and asked the shared connection which CLI command wrote the file, while
the event loop could be in the middle of a transaction on that same connection: the thread read
the transaction's uncommitted rows (one connection, one transaction), rows a rollback then
removed, and recorded them as the revision's change-cause.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest

from reconciler.store import Store
from tests.unit.world import deployment, ref


class _Rollback(Exception):
    pass


def test_a_thread_never_reads_a_transaction_that_is_rolled_back(tmp_path: Path) -> None:
    """A read from another thread while a transaction is open sees committed state only: the
    command a rolled-back transaction noted is never seen."""
    store = Store.open(tmp_path)
    seen: list[str | None] = []
    reading = threading.Event()

    def read() -> None:
        reading.set()
        seen.append(store.command_for(source="/m/web.yaml", file_sha256="abc"))

    worker = threading.Thread(target=read)
    with pytest.raises(_Rollback), store.transaction():
        store.note_command(source="/m/web.yaml", file_sha256="abc", command="kubectl", now=1.0)
        worker.start()
        assert reading.wait(5)
        worker.join(0.2)  # a read that does not wait for the transaction is done by now
        raise _Rollback
    worker.join(5)
    assert not worker.is_alive()
    assert seen == [None]
    store.close()


def test_change_cause_is_not_a_rolled_back_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor's change-cause comes from committed state: a command noted by a transaction
    the loop is inside of while the pass reads the manifest, and then rolled back, never names
    the revision."""
    from reconciler.engine import executor as executor_module
    from reconciler.engine.executor import Executor
    from reconciler.folder.sync import FolderSync
    from reconciler.runtime.fake import FakeRuntime

    file_read, go = threading.Event(), threading.Event()
    real_read = executor_module.read_regular_file

    def slow_read(path: str) -> bytes | None:  # the worker thread's file read, held open
        file_read.set()
        go.wait(5)
        return real_read(path)

    monkeypatch.setattr(executor_module, "read_regular_file", slow_read)

    async def scenario() -> None:
        folder = tmp_path / "manifests"
        folder.mkdir()
        (folder / "web.yaml").write_text(deployment("web", replicas=0))
        store = Store.open(tmp_path / "state")
        FolderSync(store, folder).sync(now=1.0)
        obj = store.get_object(ref("web"))
        assert obj is not None
        sha = hashlib.sha256((folder / "web.yaml").read_bytes()).hexdigest()
        asked = threading.Event()
        real_command_for = store.command_for

        def command_for(*, source: str, file_sha256: str) -> str | None:
            try:
                return real_command_for(source=source, file_sha256=file_sha256)
            finally:
                asked.set()

        monkeypatch.setattr(store, "command_for", command_for)
        executor = Executor(
            store=store, runtime=FakeRuntime(), now=lambda: 1.0, on_pod_leaving=print
        )
        pass_ = asyncio.create_task(executor.reconcile(ref("web")))
        assert await asyncio.to_thread(file_read.wait, 5)
        # the loop, synchronously inside a transaction (as in any store write), while the pass's
        # worker thread goes on to ask the store for the command that wrote the file
        with pytest.raises(_Rollback), store.transaction():
            store.note_command(source=obj.source, file_sha256=sha, command="rolled back", now=1.0)
            go.set()
            asked.wait(0.5)  # a thread that asks now is answered by now
            raise _Rollback
        await asyncio.wait_for(pass_, 5)
        (rs,) = store.list_replicasets(ref("web"))
        assert rs.change_cause != "rolled back"
        assert rs.change_cause.startswith(obj.source)
        store.close()

    asyncio.run(scenario())
