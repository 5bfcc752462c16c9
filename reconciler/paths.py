"""Where state lives: the state directory, found the same way by the daemon and every command.

Order: ``--state-dir``, then ``$RECONCILER_STATE_DIR``, then the nearest ``.reconciler/`` above
the working directory, then ``./.reconciler/``. It is created 0700 with a ``.gitignore`` of
``*`` so a state directory inside a git checkout never ends up in a commit. A directory owned
by another user is refused: its database and logs are not ours to read or write.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from reconciler.errors import StateDirError

STATE_DIR_NAME = ".reconciler"
ENV_STATE_DIR = "RECONCILER_STATE_DIR"


def find_state_dir(
    explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None
) -> Path:
    """The state directory path, without creating it."""
    if explicit:
        return Path(explicit).absolute()
    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env).absolute()
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / STATE_DIR_NAME
        if candidate.is_dir():
            return candidate
    return here / STATE_DIR_NAME


def check_owner(path: Path) -> None:
    """Refuse a directory owned by another user (root may use any)."""
    uid = os.geteuid()
    owner = path.stat().st_uid
    if owner != uid and uid != 0:
        raise StateDirError(
            f"error: state directory {path} is owned by uid {owner}, not by you (uid {uid}); "
            "use --state-dir to choose your own"
        )


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory (0700, with a .gitignore) if needed and check its owner."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(f"error: cannot create state directory {path}: {exc.strerror}") from exc
    check_owner(path)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    ignore = path / ".gitignore"
    if not ignore.exists():
        # a read-only state directory is reported where it is written, not here
        with contextlib.suppress(OSError):
            ignore.write_text("*\n")
    return path
