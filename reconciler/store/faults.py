"""Fault injection as a seam: what makes the store's writes fail, passed in, never looked up.

The reliability tests must see a daemon whose state database cannot be written (a read-only
state directory) and then can again; a test cannot make that of a mounted filesystem whose files
are open for writing (EBUSY), and root ignores file modes. So a real daemon can be started with
``reconciler run --fault-file PATH`` (a hidden option): its store is built once with a
``FaultFile`` and, while that file exists, every write transaction fails with the SQLite error
the file contains. A store built without one (every other store) has no fault path at all:
nothing is read from the environment, and nothing per transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol


class WriteFaults(Protocol):
    """Called before each outermost write transaction; raises to make it fail."""

    def check(self) -> None: ...


class FaultFile:
    """Writes fail while ``path`` exists, with the message it holds (as a read-only database).

    >>> import tempfile, pathlib
    >>> switch = pathlib.Path(tempfile.mkdtemp()) / "read-only"
    >>> FaultFile(switch).check()  # no file: no fault
    >>> _ = switch.write_text("attempt to write a readonly database")
    >>> FaultFile(switch).check()
    Traceback (most recent call last):
    ...
    sqlite3.OperationalError: attempt to write a readonly database
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self) -> None:
        try:
            message = self.path.read_text().strip()
        except FileNotFoundError:
            return
        raise sqlite3.OperationalError(message or "attempt to write a readonly database")


__all__ = ["FaultFile", "WriteFaults"]
