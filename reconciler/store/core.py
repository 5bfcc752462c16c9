"""The Store: the one SQLite database every part of the reconciler shares (DESIGN decision 3).

The daemon holds one Store (and the daemon lock) for its lifetime and is the only writer of
observed state; each CLI command opens a Store briefly to read, or to write an intent. Every
method that writes is one transaction; ``with store.transaction():`` groups several writes, and
nested transactions are savepoints inside the outer one, so a failing inner block undoes only
itself. Every statement runs under the store's mutex (``store.base``), so a worker thread
reads committed rows only.

The tables, by concern: applied objects and statuses (``store.objects``), ReplicaSets and
revisions (``store.replicasets``), pods, events, intents and commands (``store.activity``);
what the engine uses of them is the ``EngineStore`` protocol (``store.api``).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.paths import ensure_state_dir
from reconciler.store.activity import (
    COMMANDS_KEPT,
    EVENTS_PER_OBJECT,
    EVENTS_TOTAL,
    FINISHED_INTENTS_KEPT,
    ActivityTables,
)
from reconciler.store.base import StoreBase
from reconciler.store.faults import WriteFaults
from reconciler.store.objects import ObjectTable
from reconciler.store.replicasets import ReplicaSetTable, template_key
from reconciler.store.schema import DB_NAME, connect


class Store(ObjectTable, ReplicaSetTable, ActivityTables, StoreBase):
    """The state database of one state directory (see the module docstring)."""

    @classmethod
    def open(cls, state_dir: Path, *, faults: WriteFaults | None = None) -> Store:
        """Open (create and migrate if needed) ``<state_dir>/state.db``; ``faults``: the
        reliability tests' seam (``store.faults``), built once by the caller."""
        state_dir = ensure_state_dir(Path(state_dir))
        return cls(state_dir, connect(state_dir / DB_NAME), faults=faults)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "COMMANDS_KEPT",
    "EVENTS_PER_OBJECT",
    "EVENTS_TOTAL",
    "FINISHED_INTENTS_KEPT",
    "Store",
    "template_key",
]
