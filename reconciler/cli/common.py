"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.objects import DEFAULT_NAMESPACE
from reconciler.paths import check_owner, ensure_state_dir, find_state_dir

if TYPE_CHECKING:
    from reconciler.store import Store


def common_options() -> argparse.ArgumentParser:
    """A parent parser with ``--state-dir`` and ``-n/--namespace`` for every sub-command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--state-dir",
        metavar="DIR",
        help="state directory (default: $RECONCILER_STATE_DIR, else the nearest .reconciler/)",
    )
    parent.add_argument("-n", "--namespace", default=DEFAULT_NAMESPACE, help="namespace")
    return parent


def state_dir(args: argparse.Namespace, *, create: bool = True) -> Path:
    path = find_state_dir(getattr(args, "state_dir", None))
    return ensure_state_dir(path) if create else path


@contextlib.contextmanager
def open_store(args: argparse.Namespace, *, reading: bool = True) -> Iterator[Store]:
    """The store of the state directory, for reading (and writing intents).

    Where no daemon ever ran there is nothing to read: the command fails with
    ``liveness.no_state_message`` (not "No resources found", which would be confidently
    wrong) and no ``.reconciler/`` is left behind in whatever folder it was typed in. A read
    (``reading``) of a store no daemon holds says so on stderr, with the time of the last
    observation; commands that write intents say it their own way.
    """
    from reconciler.cli.liveness import NoStateDir, warn_if_stale
    from reconciler.store import DB_NAME, Store

    path = find_state_dir(getattr(args, "state_dir", None))
    if not (path / DB_NAME).exists():
        raise NoStateDir(path)
    check_owner(path)
    with Store.open(path) as store:
        if reading:
            warn_if_stale(store)
        yield store
