"""The store's connection, its one mutex, transactions, and the daemon lock.

One SQLite connection is shared by the daemon's event loop and the worker threads it hands
blocking work to (``asyncio.to_thread``), so it is opened with ``check_same_thread=False`` and
every statement runs under one re-entrant mutex: writes inside ``transaction()``, reads in
``_rows``/``_row``/``_one``. A read from another thread therefore waits for a transaction the
loop is inside of, and sees committed rows only, never the loop's half-done ones (on one
connection, SQLite would show them: one connection is one transaction). The loop never waits
for a worker thread inside a transaction, so the wait is short and cannot deadlock.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reconciler.store import lock
from reconciler.store.faults import WriteFaults
from reconciler.store.scan import StateScan, change_mark, scan_state
from reconciler.store.schema import DB_NAME


def dump(value: Any) -> str:
    """JSON as stored: compact, sorted keys, UTF-8 kept."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class StoreBase:
    """Connection, mutex, transactions, meta and the daemon lock (see the module docstring)."""

    def __init__(
        self, state_dir: Path, conn: sqlite3.Connection, *, faults: WriteFaults | None = None
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self._conn = conn
        self._mutex = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None
        self._faults = faults

    # -- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        with self._mutex:
            if self._lock_fd is not None:
                lock.release(self._lock_fd)
                self._lock_fd = None
            self._conn.close()

    def lock_daemon(self) -> None:
        """Hold the daemon lock until close(); a second daemon gets a StateDirError naming us."""
        if self._lock_fd is None:
            self._lock_fd = lock.acquire(self.state_dir)

    def daemon_pid(self) -> int | None:
        """The pid of the live daemon holding this state directory, else None."""
        if self._lock_fd is not None:
            return os.getpid()
        return lock.holder(self.state_dir)

    # -- statements ------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested uses are savepoints of the outer transaction."""
        with self._mutex:
            depth = self._depth
            if depth == 0 and self._faults is not None:
                self._faults.check()
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{depth}")
                    self._conn.execute(f"RELEASE sp{depth}")
                raise
            self._depth -= 1
            self._conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read, fetched under the mutex."""
        with self._mutex:
            return self._conn.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a read (None if there is none), fetched under the mutex."""
        with self._mutex:
            return self._conn.execute(sql, params).fetchone()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None if there is none)."""
        row = self._row(sql, params)
        return None if row is None else row[0]

    # -- meta and whole-database reads -----------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        value = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def change_mark(self) -> tuple[int, int]:
        """Differs from the last one whenever anything was committed since (any connection)."""
        with self._mutex:
            return change_mark(self._conn)

    def scan(self) -> StateScan:
        """The raw rows ``/metrics`` shows, of one committed state (``reconciler.store.scan``)."""
        with self._mutex:
            return scan_state(self._conn)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" for a sound database."""
        return str(self._one("PRAGMA integrity_check"))


__all__ = ["StoreBase", "dump"]
