"""A manifest file as its YAML documents, cut textually so that untouched ones stay byte for byte.

``---`` at column 0 is a document marker even inside a block scalar (YAML 1.2
"c-forbidden"), so a file is cut into ``Piece``s whose concatenation is the file; numbering
matches ``yaml.safe_load_all``. ``find_object`` answers "which file and document holds this
object" for every command that edits one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml as pyyaml

from reconciler.errors import ReconcilerError
from reconciler.folder.files import iter_manifest_files
from reconciler.objects import DEFAULT_NAMESPACE, Kind, ObjectRef

__all__ = [
    "BARE_START",
    "SAFE_LOADER",
    "Located",
    "Piece",
    "check_identity",
    "documents_of_text",
    "find_object",
    "has_content",
    "is_filler",
    "join",
    "load_pieces",
    "piece_index",
    "read_text",
    "ref_of",
    "refs_in_file",
]

_MARKER = re.compile(r"^(---|\.\.\.)(?=[ \t\r\n]|$)")
BARE_START = re.compile(r"^---[ \t]*(#.*)?\r?\n?$")
"""A ``---`` line with nothing but a comment after it."""
SAFE_LOADER: Any = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Located:
    """Where one object lives: its file, its document number in that file, and its identity."""

    path: Path
    index: int
    ref: ObjectRef


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of a file's text: one YAML document, or comments/directives between them."""

    text: str
    is_document: bool


def is_filler(line: str) -> bool:
    """A blank, comment or directive line: no content of a document."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or stripped.startswith("%")


def _split(text: str) -> list[Piece]:
    """Cut ``text`` into pieces whose concatenation is ``text``.

    Document numbering matches ``yaml.safe_load_all``: a leading stretch of comments is not a
    document; every ``---`` starts one (an empty one loads as null).
    """
    pieces: list[Piece] = []
    current: list[str] = []
    explicit = False
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and _MARKER.match(line):
            if current:
                body = explicit or not all(is_filler(x) for x in current)
                pieces.append(Piece("".join(current), body))
            current, explicit = [line], True
        else:
            current.append(line)
    if current:
        body = explicit or not all(is_filler(x) for x in current)
        pieces.append(Piece("".join(current), body))
    return pieces


def has_content(piece: Piece) -> bool:
    lines = piece.text.splitlines()
    if lines and _MARKER.match(lines[0]):
        lines = lines[1:]
    return piece.is_document and not all(is_filler(x) for x in lines)


def _documents(pieces: list[Piece]) -> list[int]:
    """Indexes into ``pieces`` of the documents, in order."""
    return [i for i, piece in enumerate(pieces) if piece.is_document]


def ref_of(doc: object) -> ObjectRef | None:
    if not isinstance(doc, Mapping):
        return None
    kind = doc.get("kind")
    metadata = doc.get("metadata")
    if not isinstance(metadata, Mapping) or kind not in {k.value for k in Kind}:
        return None
    name = metadata.get("name")
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return ObjectRef(Kind(kind), namespace, name)


def refs_in_file(path: Path) -> list[tuple[int, ObjectRef]]:
    """``(document number, ref)`` of every object in ``path``; unreadable documents are skipped."""
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError):
        return []
    found: list[tuple[int, ObjectRef]] = []
    pieces = _split(text)
    for number, at in enumerate(_documents(pieces)):
        try:
            doc = pyyaml.load(pieces[at].text, Loader=SAFE_LOADER)
        except pyyaml.YAMLError:
            continue
        ref = ref_of(doc)
        if ref is not None:
            found.append((number, ref))
    return found


def documents_of_text(text: str) -> list[tuple[ObjectRef | None, str]]:
    """Each document of a file's text: its object's ref (if any) and its text, verbatim."""
    out: list[tuple[ObjectRef | None, str]] = []
    for piece in (p for p in _split(text) if p.is_document):
        try:
            doc = pyyaml.load(piece.text, Loader=SAFE_LOADER)
        except pyyaml.YAMLError:
            doc = None
        body = piece.text
        first, _, rest = body.partition("\n")
        if body.startswith("---") and BARE_START.match(first + "\n"):
            body = rest
        out.append((ref_of(doc), body))
    return out


def find_object(folder: Path, ref: ObjectRef) -> Located | None:
    """The first document under ``folder`` that holds ``ref`` (files in sorted order)."""
    for path in iter_manifest_files(folder):
        for number, found in refs_in_file(path):
            if found == ref:
                return Located(path=path, index=number, ref=ref)
    return None


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def join(pieces: list[Piece], *, crlf: bool) -> bytes:
    text = "".join(piece.text for piece in pieces)
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode("utf-8")


def load_pieces(path: Path) -> tuple[list[Piece], bool]:
    raw = read_text(path)
    crlf = "\r\n" in raw
    return _split(raw.replace("\r\n", "\n") if crlf else raw), crlf


def piece_index(pieces: list[Piece], located: Located) -> int:
    docs = _documents(pieces)
    if located.index >= len(docs):
        raise ReconcilerError(
            f"error: {located.path} changed while it was being edited "
            f"(document {located.index} is gone); try again"
        )
    return docs[located.index]


def check_identity(text: str, located: Located) -> None:
    try:
        doc = pyyaml.load(text, Loader=SAFE_LOADER)
    except pyyaml.YAMLError:
        doc = None
    if ref_of(doc) != located.ref:
        raise ReconcilerError(
            f"error: {located.path} changed while it was being edited "
            f"({located.ref.display} moved); try again"
        )
