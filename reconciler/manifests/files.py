"""Reading manifest files: folders walked, FIFOs and giant files refused, stdin as ``-``.

Every read is bounded (``MAX_FILE_BYTES``) and non-blocking (a FIFO dropped into the folder must
not hang the daemon); a file that cannot be read becomes a problem naming it, never an
exception.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from reconciler.errors import Problem
from reconciler.manifests.nodes import problem

__all__ = [
    "MAX_FILE_BYTES",
    "STDIN",
    "YAML_SUFFIXES",
    "read_regular_file",
    "size_problem",
    "sources",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""A manifest file larger than this is refused before it is parsed (etcd keeps 1.5 MiB)."""

STDIN = "<stdin>"
YAML_SUFFIXES = (".yaml", ".yml")
"""What a manifest file's name ends with."""


def sources(
    paths: Sequence[str | os.PathLike[str]],
    *,
    stdin: TextIO | None,
    problems: list[Problem],
    unreadable: set[str],
) -> Iterator[tuple[str, bytes | None]]:
    """(source, bytes) per file; bytes is None when the file could not be read (problem added)."""
    seen: set[str] = set()
    for raw in paths:
        given = os.fspath(raw)
        if given == "-":
            yield STDIN, _read_stdin(stdin, problems=problems, unreadable=unreadable)
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(_walk(given, ""), key=lambda rest: rest.split("/"))
            candidates: list[str | Path] = [os.path.join(given, rest) for rest in found]
            prefix = "" if given in (".", "./") else given.rstrip("/") + "/"
            names = [prefix + rest for rest in found]
        else:
            candidates, names = [path], [given]
        for candidate, name in zip(candidates, names, strict=True):
            if name in seen:
                continue
            seen.add(name)
            yield name, _read_file(candidate, name=name, problems=problems, unreadable=unreadable)


def _walk(root: str, rest: str) -> Iterator[str]:
    """Paths (relative, with "/") of the ``*.yaml``/``*.yml`` regular files under ``root``
    (``os.scandir``: one system call per directory instead of a stat per file)."""
    try:
        entries = list(os.scandir(os.path.join(root, rest) if rest else root))
    except OSError:
        return
    for entry in entries:
        name = f"{rest}/{entry.name}" if rest else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):  # as rglob: symlinked folders not entered
                yield from _walk(root, name)
            elif entry.name.endswith(YAML_SUFFIXES) and entry.is_file():
                yield name
        except OSError:
            continue


def _read_file(
    path: str | Path, *, name: str, problems: list[Problem], unreadable: set[str]
) -> bytes | None:
    try:
        # O_NONBLOCK and fstat on the open file: a FIFO (or a file replaced by one after a
        # directory scan) must be refused, not block the reader (and the daemon) forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError
                problems.append(problem(name, 1, 1, "not a regular file", "read"))
                unreadable.add(name)
                return None
            if st.st_size > MAX_FILE_BYTES:
                problems.append(size_problem(name, st.st_size))
                unreadable.add(name)
                return None
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # it grew while we read it
            problems.append(size_problem(name, len(data)))
            unreadable.add(name)
            return None
        return data
    except FileNotFoundError:
        message = "no such file or directory"
    except IsADirectoryError:
        message = "is a directory"
    except OSError as exc:
        message = exc.strerror or str(exc)
    problems.append(problem(name, 1, 1, message, "read"))
    unreadable.add(name)
    return None


def read_regular_file(path: str | os.PathLike[str]) -> bytes | None:
    """A manifest file's bytes, or None when it is not a readable regular file (a FIFO, a
    directory, gone, too large). Never blocks: callers in the daemon rely on that."""
    return _read_file(Path(path), name=os.fspath(path), problems=[], unreadable=set())


def _read_stdin(
    stdin: TextIO | None, *, problems: list[Problem], unreadable: set[str]
) -> bytes | None:
    stream = stdin if stdin is not None else sys.stdin
    buffer = getattr(stream, "buffer", None)
    data: str | bytes = (
        buffer.read(MAX_FILE_BYTES + 1) if buffer is not None else stream.read(MAX_FILE_BYTES + 1)
    )
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        problems.append(size_problem(STDIN, len(raw)))
        unreadable.add(STDIN)
        return None
    return raw


def size_problem(source: str, size: int) -> Problem:
    return problem(
        source,
        1,
        1,
        f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes",
        "size-limit",
    )
