"""``apply -f FILE|DIR|-``: bring objects into the folder, each into the file that holds it.

Everything given is validated first and nothing is written when any of it is invalid. Then an
object the folder already holds is merged into its own document (only that document changes,
and the comments on the fields that stay are kept); a new object becomes ``<name>.yaml``,
copied as it was written (comments included). Each object prints kubectl's
``deployment.apps/NAME created|configured|unchanged``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reconciler.cli.common import common_options
from reconciler.errors import ReconcilerError
from reconciler.folder.edit import (
    documents_of_text,
    find_object,
    iter_manifest_files,
    ref_of,
    replace_object,
    write_new,
)
from reconciler.folder.locate import (
    add_folder_option,
    check_editable,
    command_line,
    display_path,
    document_check,
    note_command,
    refuse,
    resolve_folder,
    validate_in_folder,
)
from reconciler.manifests.load import load_text
from reconciler.objects import DEFAULT_NAMESPACE, ObjectRef


def _read_sources(paths: list[str]) -> list[tuple[str, str]]:
    """(source name, text) of every file given: ``-`` is stdin, folders are walked."""
    sources: list[tuple[str, str]] = []
    for given in paths:
        if given == "-":
            sources.append(("<stdin>", sys.stdin.read()))
            continue
        path = Path(given)
        if not path.exists():
            raise ReconcilerError(f'error: the path "{given}" does not exist')
        files = list(iter_manifest_files(path)) if path.is_dir() else [path]
        for file in files:
            try:
                sources.append((display_path(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise ReconcilerError(f"error: cannot read {file}: {exc}") from None
    return sources


def _new_file_name(folder: Path, ref: ObjectRef) -> str:
    name = f"{ref.name}.yaml"
    return name if not (folder / name).exists() else f"{ref.name}-{ref.kind.value.lower()}.yaml"


def _in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """kubectl's ``apply -n NS``: an object without a namespace goes into NS; one that names
    another namespace is refused (the object itself, unchanged, when NS is the default)."""
    if namespace == DEFAULT_NAMESPACE:
        return obj
    metadata = obj.get("metadata") or {}
    written = metadata.get("namespace")
    if written is None:
        return {**obj, "metadata": {**metadata, "namespace": namespace}}
    if written != namespace:
        raise ReconcilerError(
            f'error: the namespace from the provided object "{written}" does not match the '
            f"namespace \"{namespace}\". You must pass '--namespace={written}' to perform this "
            "operation."
        )
    return obj


def _apply(args: argparse.Namespace) -> int:
    sources = _read_sources(args.filename)
    folder = resolve_folder(args)
    problems = validate_in_folder(folder, sources)
    objects: list[tuple[ObjectRef, dict[str, Any], str]] = []
    for source, text in sources:
        texts = {ref: body for ref, body in documents_of_text(text) if ref is not None}
        for document in load_text(text, source=source).documents:
            ref = ref_of(document.obj)
            if ref is not None:
                body, written = _in_namespace(document.obj, args.namespace), texts.get(ref, "")
                if body is not document.obj:  # -n NS put it there: the text no longer says so
                    ref, written = ref_of(body) or ref, ""
                objects.append((ref, body, written))
    refuse(problems, what="the input")
    if not objects:
        raise ReconcilerError("error: no objects passed to apply")
    words = ["apply", *(f"-f={name}" for name in args.filename)]
    for ref, obj, text in objects:
        located = find_object(folder, ref) if folder.is_dir() else None
        if located is None:
            path = folder / _new_file_name(folder, ref)
            folder.mkdir(parents=True, exist_ok=True)
            check_editable(folder, path)
            path = write_new(folder, path.name, text or obj)
            note_command(args, path, command_line(words))
            print(f"{ref.display} created")
            continue
        check_editable(folder, located.path)
        if replace_object(located, obj, check=document_check(located, folder=folder)):
            note_command(args, located.path, command_line(words))
            print(f"{ref.display} configured")
        else:
            print(f"{ref.display} unchanged")
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "apply",
        parents=[common_options()],
        help="write objects from files into the manifests folder (validated first)",
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="a file, a folder or - (stdin)",
    )
    add_folder_option(parser)
    parser.set_defaults(func=_apply)
