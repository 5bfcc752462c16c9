"""The ``reconciler`` command: kubectl's verbs over a folder and a state directory.

Each module of this package that defines ``register(commands, rollout)`` adds its sub-commands;
``commands`` are the top-level sub-parsers, ``rollout`` those of ``reconciler rollout``. A
handler is stored as ``func`` and returns the exit code. Errors meant for the user are raised
as ``ReconcilerError`` and printed without a traceback (exit 1; usage errors exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from reconciler import __version__
from reconciler.errors import ReconcilerError, UsageError

__all__ = [
    "build_parser",
    "main",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


_LIGHT = {"validate": "validate", "schema": "validate"}
"""Commands that CI runs on every push: only their own module is imported (start-up time)."""


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description="A GitOps-style reconciler for one host: Kubernetes Deployments and "
        "Services on local processes.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    rollout_parser = commands.add_parser(
        "rollout", help="manage the rollout of a deployment (status, history, undo, ...)"
    )
    rollout = rollout_parser.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND")
    rollout.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only is not None and info.name != only):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(commands, rollout)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_LIGHT.get(given[0]) if given else None)
    args = parser.parse_args(given)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ReconcilerError as exc:
        message = str(exc)
        prefixed = message.lower().startswith("error")
        print(message if prefixed else f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code
