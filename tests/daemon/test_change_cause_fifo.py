"""A manifest replaced by a FIFO never blocks the daemon (nor `rollout status`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

from reconciler.engine.executor import Executor, _file_sha256
from reconciler.manifests.load import read_regular_file
from reconciler.store import Store


def test_reading_a_fifo_returns_at_once(tmp_path: Path) -> None:
    """read_regular_file refuses a FIFO instead of waiting for a writer."""
    fifo = tmp_path / "web.yaml"
    os.mkfifo(fifo)
    assert read_regular_file(fifo) is None
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    assert read_regular_file(tmp_path / "ok.yaml") == b"a: 1\n"


def test_change_cause_of_a_source_replaced_by_a_fifo_does_not_block(tmp_path: Path) -> None:
    """Recording a revision whose file became a FIFO still names a cause, promptly."""
    fifo = tmp_path / "web.yaml"
    os.mkfifo(fifo)
    store = Store.open(tmp_path / "state")
    try:
        executor = Executor(
            store=store, runtime=SimpleNamespace(), now=lambda: 0.0, on_pod_leaving=print
        )  # type: ignore[arg-type]
        obj = SimpleNamespace(source=str(fifo), manifest={}, digest="0" * 64)
        result: list[str] = []
        # the executor's two steps: the file off the loop (it may block), then the store
        worker = threading.Thread(
            target=lambda: result.append(
                executor._change_cause(obj, file_sha256=_file_sha256(obj.source))
            )
        )
        worker.daemon = True
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "blocked on the FIFO"
        assert str(fifo) in result[0]
    finally:
        store.close()
