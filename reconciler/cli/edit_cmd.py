"""``edit deployment/NAME``: the object's own document in ``$EDITOR``, comments and all.

The buffer holds the document exactly as it is in the file, under kubectl's "Please edit the
object below" header (removed on save; the document's own comments are kept). On save the
document is validated; when it is not valid the buffer is reopened with the errors as ``#``
lines in the header, as kubectl does. An unchanged buffer cancels (``Edit cancelled, no
changes made.``), an empty one too (``Edit cancelled, saved file was empty.``). Success
replaces only that document of the file, byte for byte as the user saved it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reconciler.cli.common import common_options
from reconciler.errors import ReconcilerError, Severity
from reconciler.folder.edit import document_start, document_text, documents_of_text, replace_text
from reconciler.folder.locate import (
    add_folder_option,
    command_line,
    display_path,
    kubectl_errors,
    locate,
    note_command,
    plural,
    resolve_folder,
    validate_in_folder,
)
from reconciler.objects import ObjectRef, parse_resource

HEADER = (
    "# Please edit the object below. This header is removed when you save; the other",
    "# comments stay in the manifest file. An empty file will abort the edit.",
    "# If an error occurs while saving this file will be reopened with the relevant failures.",
    "#",
)


def editor_command() -> list[str]:
    """``$EDITOR``, else ``$VISUAL``, else ``vi`` (split like a shell would)."""
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    return shlex.split(editor)


def _header(ref: ObjectRef, errors: list[str]) -> list[str]:
    lines = list(HEADER)
    if errors:
        lines.append(f'# {plural(ref)} "{ref.name}" was not valid:')
        lines.extend(f"# * {error}" for error in errors)
        lines.append("#")
    return lines


def strip_header(text: str, header: list[str]) -> str:
    """The buffer without the leading header lines we wrote (the user's comments stay)."""
    lines = text.splitlines(keepends=True)
    known = set(header)
    at = 0
    while at < len(lines) and lines[at].rstrip("\r\n") in known:
        at += 1
    return "".join(lines[at:])


def _is_empty(text: str) -> bool:
    return all(not x.strip() or x.lstrip().startswith("#") for x in text.splitlines())


def _problems(text: str, *, ref: ObjectRef, source: str, folder: Path, offset: int) -> list[str]:
    documents = [(found, body) for found, body in documents_of_text(text) if not _is_empty(body)]
    if len(documents) != 1:
        return ["the buffer must hold exactly one object"]
    if documents[0][0] != ref:
        return ["At least one of apiVersion, kind and name was changed"]
    problems = validate_in_folder(folder, [(source, text)])
    return [
        f"{p.field}: {p.message}" if p.field else p.message
        for p in problems
        if p.severity is Severity.ERROR and (p.line > offset or p.line == 0)
    ]


def _run_editor(path: Path) -> None:
    command = [*editor_command(), os.fspath(path)]
    try:
        result = subprocess.run(command, check=False)
    except OSError as exc:
        raise ReconcilerError(f"error: cannot run the editor {command[0]!r}: {exc}") from None
    if result.returncode != 0:
        raise ReconcilerError(
            f"error: there was a problem with the editor {command[0]!r} "
            f"(exit code {result.returncode})"
        )


def _edit(args: argparse.Namespace) -> int:
    ref = parse_resource(args.resource, namespace=args.namespace)
    folder = resolve_folder(args)
    located = locate(folder, ref)
    original = document_text(located)
    offset = document_start(located)
    source = display_path(located.path)
    buffer = original
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-edit-") as scratch:
        path = Path(scratch) / f"{ref.kind.value.lower()}-{ref.name}.yaml"
        while True:
            header = _header(ref, errors)
            path.write_text("\n".join(header) + "\n" + buffer, encoding="utf-8")
            _run_editor(path)
            edited = strip_header(path.read_text(encoding="utf-8"), header)
            if _is_empty(edited):
                print("Edit cancelled, saved file was empty.", file=sys.stderr)
                return 0
            if edited == original or (errors and edited == buffer):
                if errors:
                    raise ReconcilerError("error: Edit cancelled, no valid changes were saved.")
                print("Edit cancelled, no changes made.", file=sys.stderr)
                return 0
            # validated at the document's own place in the file, so lines match the file
            errors = _problems(
                "\n" * offset + edited, ref=ref, source=source, folder=folder, offset=offset
            )
            if not errors:
                break
            buffer = edited
    replace_text(located, edited)
    note_command(args, located.path, command_line(["edit", *args.resource]))
    print(f"{ref.display} edited")
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "edit",
        parents=[common_options()],
        help="edit an object's document in $EDITOR (validated on save)",
    )
    parser.add_argument("resource", nargs="+", metavar="TYPE/NAME")
    add_folder_option(parser)
    parser.set_defaults(func=kubectl_errors(_edit))
