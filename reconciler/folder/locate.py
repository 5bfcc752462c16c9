"""Which folder a command edits, which file holds an object, and how the change is recorded.

Every verb that changes a spec finds the folder the same way: ``--manifests DIR`` if given,
else the folder the daemon watches (recorded in the store as ``manifests_dir``), else
``./manifests``. It then edits the file that already holds the object, and refuses when that
file is outside the folder (a symlink out of it) or cannot be written, because an edit the
daemon never sees would be a silent no-op. After a write the command line is noted in the
store so the revision the daemon records names it as its change cause.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.errors import NotFoundError, Problem, ReconcilerError, Severity
from reconciler.folder.edit import Located, document_start, find_object, iter_manifest_files, ref_of
from reconciler.manifests.load import Document, load_paths, load_text
from reconciler.manifests.validate import validate_documents
from reconciler.objects import Kind, ObjectRef
from reconciler.paths import find_state_dir
from reconciler.store import Store

__all__ = [
    "DEFAULT_FOLDER",
    "MANIFESTS_META",
    "add_folder_option",
    "check_editable",
    "command_line",
    "document_check",
    "kubectl_errors",
    "locate",
    "not_found_message",
    "note_command",
    "plural",
    "resolve_folder",
    "validate_in_folder",
]

MANIFESTS_META = "manifests_dir"
DEFAULT_FOLDER = "manifests"

_PLURALS: dict[Kind, str] = {
    Kind.DEPLOYMENT: "deployments.apps",
    Kind.SERVICE: "services",
    Kind.REPLICASET: "replicasets.apps",
    Kind.POD: "pods",
    Kind.CONFIGMAP: "configmaps",
    Kind.SECRET: "secrets",
}


def plural(ref: ObjectRef) -> str:
    """kubectl's ``resource.group`` spelling in errors: ``deployments.apps``."""
    return _PLURALS[ref.kind]


class ObjectNotFound(NotFoundError):
    """kubectl's wording, printed as it is (without the ``error:`` prefix)."""

    def __init__(self, ref: ObjectRef) -> None:
        super().__init__(f'Error from server (NotFound): {plural(ref)} "{ref.name}" not found')
        self.ref = ref


def not_found_message(args: argparse.Namespace, ref: ObjectRef) -> str:
    """Why ``ref`` is not in the folder, never confidently wrong (``brokenfile.py``):

    - its file (as the store knows it), or a file naming it, cannot be parsed: say where;
    - no state directory and no ``--manifests``: nothing tells where the folder is, so say
      that (kubectl's "connection refused"), not NotFound;
    - else kubectl's ``Error from server (NotFound)`` line.
    """
    from reconciler.cli.liveness import no_state_message
    from reconciler.folder.broken import broken_message, where_broken
    from reconciler.store import DB_NAME

    state_dir = find_state_dir(getattr(args, "state_dir", None))
    has_state = (state_dir / DB_NAME).exists()
    stored_source: str | None = None
    if has_state:
        store = _open_store(state_dir)
        if store is not None:
            with store:
                obj = store.get_object(ref)
            stored_source = obj.source if obj is not None else None
    folder = resolve_folder(args)
    files = list(iter_manifest_files(folder)) if folder.is_dir() else []
    broken = where_broken(files, ref, stored_source=stored_source)
    if broken is not None:
        return broken_message(plural(ref), ref, broken)
    if not has_state and not getattr(args, "manifests", None):
        return no_state_message(state_dir)
    return str(ObjectNotFound(ref))


def kubectl_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Print kubectl's ``Error from server (NotFound)`` line verbatim (exit 1), or why the
    object cannot be found (``not_found_message``)."""

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ObjectNotFound as exc:
            print(not_found_message(args, exc.ref), file=sys.stderr)
            return 1

    return wrapped


def add_folder_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        metavar="DIR",
        help="the manifests folder (default: the folder the daemon watches, else ./manifests)",
    )


def _open_store(state_dir: Path) -> Store | None:
    """The store of an existing state directory, or None (commands never create one)."""
    if not state_dir.is_dir():
        return None
    try:
        return Store.open(state_dir)
    except ReconcilerError:
        return None


def resolve_folder(args: argparse.Namespace) -> Path:
    """``--manifests``, else the daemon's folder from the store, else ``./manifests``."""
    explicit = getattr(args, "manifests", None)
    if explicit:
        return Path(explicit).absolute()
    state_dir = find_state_dir(getattr(args, "state_dir", None))
    if state_dir.is_dir():
        store = _open_store(state_dir)
        if store is not None:
            with store:
                watched = store.get_meta(MANIFESTS_META)
            if watched:
                return Path(str(watched)).absolute()
    return Path(DEFAULT_FOLDER).absolute()


def check_editable(folder: Path, path: Path) -> None:
    """Refuse a file outside ``folder`` or one this user cannot replace."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise ReconcilerError(
            f"error: {path} is outside the manifests folder {folder} "
            "(the daemon would not see the change); edit it there or use --manifests"
        ) from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ReconcilerError(f"error: {path} is not writable: permission denied")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ReconcilerError(
            f"error: {path.parent} is not writable (a file is replaced atomically through a "
            "temporary file next to it): permission denied"
        )


def locate(folder: Path, ref: ObjectRef) -> Located:
    """The object's file and document; kubectl's NotFound error when it has none."""
    if not folder.is_dir():
        raise ObjectNotFound(ref)
    located = find_object(folder, ref)
    if located is None:
        raise ObjectNotFound(ref)
    check_editable(folder, located.path)
    return located


def command_line(words: Sequence[str]) -> str:
    """The command as a user would retype it: ``reconciler set image deployment/web web=x``."""
    return shlex.join(["reconciler", *words])


def note_command(args: argparse.Namespace, path: Path, command: str) -> None:
    """Tell the store which command wrote ``path``'s current bytes (the change cause).

    Without a state directory there is no daemon to tell: the edit is in the file, and a
    warning says nothing applies it yet (as when no daemon holds the state directory). A store
    that cannot be written only costs the change cause, never the edit, so it is a warning.
    """
    from reconciler.store import DB_NAME

    state_dir = find_state_dir(getattr(args, "state_dir", None))
    if not (state_dir / DB_NAME).exists() or not path.exists():
        print(
            f"warning: no reconciler state at {state_dir}: the change is in {display_path(path)}"
            " and applies once a daemon ('reconciler run') watches the folder",
            file=sys.stderr,
        )
        return
    store = _open_store(state_dir)
    if store is None:
        return
    with store:
        if store.daemon_pid() is None:
            print(
                f"warning: no reconciler daemon is running for {state_dir}; the change applies "
                "when one starts",
                file=sys.stderr,
            )
        try:
            store.note_command(
                source=os.fspath(path.resolve()),
                file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                command=command,
                now=time.time(),
            )
        except Exception as exc:  # the edit is done; only its label is lost
            print(f"Warning: change cause not recorded: {exc}", file=sys.stderr)


def display_path(path: Path) -> str:
    """A path as problems show it: relative to the working directory when inside it."""
    try:
        return os.fspath(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)


def validate_in_folder(
    folder: Path, given: Sequence[tuple[str, str]], *, replacing: Path | None = None
) -> list[Problem]:
    """Problems of the ``(source, text)`` given, validated together with the rest of the
    folder (so references to Services in other files resolve), minus the file ``replacing``
    and the objects the given texts redefine."""
    problems: list[Problem] = []
    documents = []
    for source, text in given:
        loaded = load_text(text, source=source)
        problems.extend(loaded.problems)
        documents.extend(loaded.documents)
    redefined = {ref_of(doc.obj) for doc in documents}
    others: list[Document] = []
    if folder.is_dir():
        skip = replacing.resolve() if replacing is not None else None
        for path in iter_manifest_files(folder):
            if path.resolve() == skip:
                continue
            loaded = load_paths([path])
            others.extend(d for d in loaded.documents if ref_of(d.obj) not in redefined)
    sources = {source for source, _ in given}
    # as the daemon: a reference to a ConfigMap not there yet is a warning here (it may be the
    # next thing written); `reconciler validate` keeps it an error
    report = validate_documents([*documents, *others], config_refs_block=False)
    problems.extend(p for p in report.problems if p.file in sources)
    return list(dict.fromkeys(problems))


def refuse(problems: list[Problem], *, what: str) -> None:
    """Raise with the rendered errors, if any (warnings go to stderr)."""
    errors = [p for p in problems if p.severity is Severity.ERROR]
    for problem in problems:
        if problem.severity is not Severity.ERROR:
            print(problem.render(), file=sys.stderr)
    if errors:
        lines = "\n".join(p.render() for p in errors)
        raise ReconcilerError(f"error: {what} is not valid, nothing was written:\n{lines}")


def document_check(located: Located, *, folder: Path) -> Callable[[str], None]:
    """A ``check`` for ``update_object``: the edited document must stay valid.

    Only problems inside the edited document count: an error elsewhere in the folder is not
    this command's to fix, and must not block it.
    """
    start = document_start(located)

    def check(text: str) -> None:
        source = display_path(located.path)
        lines = text.splitlines()
        end = len(lines)
        # the document ends where the next one starts
        for number in range(start + 1, len(lines)):
            if lines[number].startswith("---"):
                end = number
                break
        problems = validate_in_folder(folder, [(source, text)], replacing=located.path)
        mine = [p for p in problems if start < p.line <= end or p.line == 0]
        refuse(mine, what=located.ref.display)

    return check
