"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.objects import DEFAULT_NAMESPACE
from reconciler.paths import ensure_state_dir, find_state_dir


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
