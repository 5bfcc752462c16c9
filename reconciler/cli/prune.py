"""``reconciler prune [--yes]``: confirm the deletions the prune guard holds.

When one change of the folder would delete more than half of the objects (an unmounted
folder, a half-done checkout), the daemon deletes nothing and waits (``reconciler.folder.sync``).
This command lists what would go, asks (or takes ``--yes``), and then writes a ``prune``
intent; the daemon re-reads the folder with the guard lifted and deletes them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.intents import write_intent
from reconciler.engine.model import IntentAction
from reconciler.objects import Kind, ObjectRef

__all__ = ["parse_key", "register"]


def parse_key(key: str) -> ObjectRef:
    """``Deployment/default/web`` -> ObjectRef."""
    kind, namespace, name = key.split("/", 2)
    return ObjectRef(Kind(kind), namespace, name)


def _prune(args: argparse.Namespace) -> int:
    from reconciler.folder.sync import held_deletions

    with open_store(args, reading=False) as store:
        refs = [parse_key(key) for key in held_deletions(store)]
        if not refs:
            print("No deletions are waiting for confirmation.")
            return 0
        print("The prune guard holds the deletion of:")
        for ref in refs:
            print(f"  {ref.display} (namespace {ref.namespace})")
        if not args.yes:
            sys.stdout.write(f"Delete these {len(refs)} objects? [y/N] ")
            sys.stdout.flush()
            answer = sys.stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                print("Nothing deleted.")
                return 1
        write_intent(store, refs[0], IntentAction.PRUNE, {"objects": [ref.key for ref in refs]})
    for ref in refs:
        print(f"{ref.display} pruned")
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "prune",
        parents=[common_options()],
        help="confirm deletions held back by the prune guard (lists them and asks)",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask")
    parser.set_defaults(func=_prune)
