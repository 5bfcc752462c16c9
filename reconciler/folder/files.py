"""Which files of the folder are manifests, and how a command writes one safely.

One rule (``is_manifest_path``) for the watcher, the sync and the editing commands: visible
``*.yaml``/``*.yml`` files, never a hidden one, one in a hidden or ``#`` folder, or an editor's
temporary file (``.swp``, ``~``, ``#autosave#``, ``.tmp`` ...). Writes are atomic: a hidden
temporary file in the same folder (which that rule ignores), fsync, ``os.replace``, fsync of the
folder, the file's mode kept, so a crash leaves the old file or the new one, whole.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from reconciler.manifests.files import YAML_SUFFIXES

__all__ = [
    "MANIFEST_SUFFIXES",
    "atomic_write",
    "fsync_dir",
    "is_manifest_path",
    "iter_manifest_files",
    "scan",
    "write_exclusive",
]

MANIFEST_SUFFIXES = YAML_SUFFIXES
_TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".part", ".orig", ".rej")


def is_manifest_path(path: Path, root: Path) -> bool:
    """True for ``*.yaml``/``*.yml`` files under ``root`` that are not hidden or temporary."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or any(part.startswith((".", "#")) for part in parts):
        return False
    name = parts[-1]
    if name.endswith(_TEMP_SUFFIXES) or name.startswith("~"):
        return False
    return name.endswith(MANIFEST_SUFFIXES)


def scan(root: Path) -> Iterator[Path]:
    """Every manifest file under ``root``, sorted, not following symlinked folders (no loops)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(folder) / name
            if is_manifest_path(path, root):
                found.append(path)
    return iter(sorted(found))


def iter_manifest_files(folder: Path) -> Iterator[Path]:
    """Every manifest file under ``folder``, sorted, skipping hidden and editor temp files."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if is_manifest_path(path, folder):
                yield path


# ------------------------------------------------------------------------------- atomic writes


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    temp = _temp_path(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)  # the umask must not narrow the user's mode
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (best effort: not every filesystem can)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, whole."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    temp = _write_temp(path, data, mode)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(path.parent)


def write_exclusive(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, whole or not at all; FileExistsError if it exists."""
    temp = _write_temp(path, data, 0o644)
    try:
        os.link(temp, path)  # fails with FileExistsError instead of replacing
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    fsync_dir(path.parent)
