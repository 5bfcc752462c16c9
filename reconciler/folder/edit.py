"""The one comment-preserving editor of manifest files.

The folder is the truth (DESIGN decision 1), so every command that changes a spec edits a
file a person wrote, and ``git diff`` must show only what the command meant to change. Three
layers keep the rest of the file byte for byte:

1. The file is cut into its YAML documents textually (``---`` at column 0 is a document
   marker even inside a block scalar, YAML 1.2 "c-forbidden"), so the documents that are not
   edited are copied as they are.
2. The edited document is loaded with ruamel.yaml's round-trip loader, using the indentation
   detected from that document, and dumped again (comments, key order and quotes kept).
3. ruamel still normalises a few things (flow-mapping spacing, ``-  item`` dashes), so the edit
   is applied as a patch: the lines that differ between ruamel's dump before and after the
   change replace the matching lines of the original text; everything ruamel would merely
   have re-spelled stays as the user wrote it. When the patch cannot be placed, ruamel's whole
   dump of that document is used (still with comments and order).

Writes are atomic: a hidden temporary file in the same folder (the watcher ignores hidden
files), fsync, ``os.replace``, fsync of the folder, with the file's mode kept.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.errors import ReconcilerError
from reconciler.objects import DEFAULT_NAMESPACE, Kind, ObjectRef

__all__ = [
    "Located",
    "atomic_write",
    "document_start",
    "document_text",
    "documents_of_text",
    "dump_new",
    "find_object",
    "iter_manifest_files",
    "merge_into",
    "ref_of",
    "refs_in_file",
    "remove_object",
    "replace_object",
    "replace_text",
    "update_object",
    "write_new",
]

MANIFEST_SUFFIXES = (".yaml", ".yml")
_MARKER = re.compile(r"^(---|\.\.\.)(?=[ \t\r\n]|$)")
_BARE_START = re.compile(r"^---[ \t]*(#.*)?\r?\n?$")
_KEY_ONLY = re.compile(
    r"^(?P<lead> *(?:- +)*)(?:[^\s#'\"-][^#:]*|\"[^\"]*\"|'[^']*'):[ \t]*(?:#.*)?$"
)
_DASH = re.compile(r"^( *)-( +)\S")


@dataclass(frozen=True, slots=True)
class Located:
    """Where one object lives: its file, its document number in that file, and its identity."""

    path: Path
    index: int
    ref: ObjectRef


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of a file's text: one YAML document, or comments/directives between them."""

    text: str
    is_document: bool


# ---------------------------------------------------------------------------------- splitting


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or stripped.startswith("%")


def _split(text: str) -> list[_Piece]:
    """Cut ``text`` into pieces whose concatenation is ``text``.

    Document numbering matches ``yaml.safe_load_all``: a leading stretch of comments is not a
    document; every ``---`` starts one (an empty one loads as null).
    """
    pieces: list[_Piece] = []
    current: list[str] = []
    explicit = False
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and _MARKER.match(line):
            if current:
                body = explicit or not all(_is_filler(x) for x in current)
                pieces.append(_Piece("".join(current), body))
            current, explicit = [line], True
        else:
            current.append(line)
    if current:
        body = explicit or not all(_is_filler(x) for x in current)
        pieces.append(_Piece("".join(current), body))
    return pieces


def _has_content(piece: _Piece) -> bool:
    lines = piece.text.splitlines()
    if lines and _MARKER.match(lines[0]):
        lines = lines[1:]
    return piece.is_document and not all(_is_filler(x) for x in lines)


def _documents(pieces: list[_Piece]) -> list[int]:
    """Indexes into ``pieces`` of the documents, in order."""
    return [i for i, piece in enumerate(pieces) if piece.is_document]


# ----------------------------------------------------------------------------------- scanning


def _is_candidate(path: Path) -> bool:
    name = path.name
    if name.startswith((".", "#", "~")) or name.endswith(("~", ".tmp", ".swp")):
        return False
    return name.endswith(MANIFEST_SUFFIXES)


def iter_manifest_files(folder: Path) -> Iterator[Path]:
    """Every manifest file under ``folder``, sorted, skipping hidden and editor temp files."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if _is_candidate(path):
                yield path


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
        text = _read(path)
    except (OSError, UnicodeDecodeError):
        return []
    found: list[tuple[int, ObjectRef]] = []
    pieces = _split(text)
    for number, at in enumerate(_documents(pieces)):
        try:
            doc = pyyaml.load(pieces[at].text, Loader=_SAFE_LOADER)
        except pyyaml.YAMLError:
            continue
        ref = ref_of(doc)
        if ref is not None:
            found.append((number, ref))
    return found


_SAFE_LOADER: Any = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)


def documents_of_text(text: str) -> list[tuple[ObjectRef | None, str]]:
    """Each document of a file's text: its object's ref (if any) and its text, verbatim."""
    out: list[tuple[ObjectRef | None, str]] = []
    for piece in (p for p in _split(text) if p.is_document):
        try:
            doc = pyyaml.load(piece.text, Loader=_SAFE_LOADER)
        except pyyaml.YAMLError:
            doc = None
        body = piece.text
        first, _, rest = body.partition("\n")
        if body.startswith("---") and _BARE_START.match(first + "\n"):
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


# ------------------------------------------------------------------------------ round-trip I/O


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _detect_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) for ruamel, from the first nested block of each kind.

    ``containers:\\n  - name: web`` is (2, 4, 2); ``containers:\\n- name: web`` is (2, 2, 0).
    """
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    lines = [x for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
    for line, following in itertools.pairwise(lines):
        head = _KEY_ONLY.match(line)
        if head is None:
            continue
        own = len(head.group("lead"))
        child = len(following) - len(following.lstrip(" "))
        dash = _DASH.match(following)
        if dash and sequence is None and child >= own:
            offset = child - own
            sequence = (offset + len(dash.group(2)) + 1, offset)
        elif not dash and mapping is None and child > own:
            mapping = child - own
        if mapping is not None and sequence is not None:
            break
    mapping = mapping or 2
    seq, offset = sequence or (2, 0)
    return mapping, max(seq, offset + 2), offset


def _yaml_for(text: str) -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    mapping, sequence, offset = _detect_indent(text)
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    return rt


def _dump(rt: YAML, data: Any) -> str:
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def _patch(original: str, base: str, new: str) -> str | None:
    """Apply the change ``base -> new`` to ``original`` (of which ``base`` is a re-spelling).

    Returns None when a changed line of ``base`` has no exact counterpart in ``original``.
    """
    orig_lines = original.splitlines(keepends=True)
    base_lines = base.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    to_orig: dict[int, int] = {}
    aligner = difflib.SequenceMatcher(None, base_lines, orig_lines, autojunk=False)
    for block in aligner.get_matching_blocks():
        for k in range(block.size):
            to_orig[block.a + k] = block.b + k
    edits: list[tuple[int, int, list[str]]] = []
    changes = difflib.SequenceMatcher(None, base_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in changes.get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            mapped = [to_orig.get(i) for i in range(i1, i2)]
            first = mapped[0]
            if first is None or mapped != list(range(first, first + len(mapped))):
                return None
            start, end = first, first + len(mapped)
        elif i1 > 0 and (i1 - 1) in to_orig:
            start = end = to_orig[i1 - 1] + 1
        elif i1 in to_orig:
            start = end = to_orig[i1]
        elif i1 == 0:
            start = end = 0
        else:
            return None
        edits.append((start, end, new_lines[j1:j2]))
    for start, end, replacement in reversed(edits):
        orig_lines[start:end] = replacement
    patched = "".join(orig_lines)
    if original.endswith("\n") and not patched.endswith("\n"):
        patched += "\n"
    return patched


def _rewrite(text: str, mutate: Callable[[CommentedMap], None]) -> str:
    """The document ``text`` after ``mutate``, changed only where the mutation reaches."""
    head = ""
    body = text
    first, _, rest = text.partition("\n")
    if text.startswith("---") and _BARE_START.match(first + "\n"):
        head, body = first + "\n", rest
    # comments after the last node belong to the document, not to that node: keep them last
    lines = body.splitlines(keepends=True)
    cut = len(lines)
    while cut and _is_filler(lines[cut - 1]):
        cut -= 1
    body, tail = "".join(lines[:cut]), "".join(lines[cut:])
    rt = _yaml_for(body)
    data = rt.load(body)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ReconcilerError("error: the document is not a mapping")
    base = _dump(rt, data) if body.strip() else ""
    mutate(data)
    new = _dump(rt, data) if len(data) else ""
    if new == base:
        return text
    if base == body:
        return head + new + tail
    patched = _patch(body, base, new)
    return head + (patched if patched is not None else new) + tail


def _join(pieces: list[_Piece], *, crlf: bool) -> bytes:
    text = "".join(piece.text for piece in pieces)
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode("utf-8")


def _load_pieces(path: Path) -> tuple[list[_Piece], bool]:
    raw = _read(path)
    crlf = "\r\n" in raw
    return _split(raw.replace("\r\n", "\n") if crlf else raw), crlf


def _piece_index(pieces: list[_Piece], located: Located) -> int:
    docs = _documents(pieces)
    if located.index >= len(docs):
        raise ReconcilerError(
            f"error: {located.path} changed while it was being edited "
            f"(document {located.index} is gone); try again"
        )
    return docs[located.index]


def _check_identity(text: str, located: Located) -> None:
    try:
        doc = pyyaml.load(text, Loader=_SAFE_LOADER)
    except pyyaml.YAMLError:
        doc = None
    if ref_of(doc) != located.ref:
        raise ReconcilerError(
            f"error: {located.path} changed while it was being edited "
            f"({located.ref.display} moved); try again"
        )


def update_object(
    located: Located,
    mutate: Callable[[CommentedMap], None],
    *,
    check: Callable[[str], None] | None = None,
) -> bool:
    """Apply ``mutate`` to the object's document; True if the file changed.

    ``check`` sees the new text of the whole file before anything is written and may raise
    to refuse the change (the verbs validate with it).
    """
    pieces, crlf = _load_pieces(located.path)
    at = _piece_index(pieces, located)
    old = pieces[at].text
    _check_identity(old, located)
    new = _rewrite(old, mutate)
    if new == old:
        return False
    if old.endswith("\n") and not new.endswith("\n"):
        new += "\n"
    pieces[at] = _Piece(new, is_document=True)
    if check is not None:
        check("".join(piece.text for piece in pieces))
    atomic_write(located.path, _join(pieces, crlf=crlf))
    return True


def _merge(target: Any, source: Any) -> Any:
    """``source``'s value, reusing ``target``'s containers (and so their comments) where the
    shapes agree: mappings key by key, sequences item by item."""
    if isinstance(target, CommentedMap) and isinstance(source, Mapping):
        for key in [k for k in target if k not in source]:
            del target[key]
        for key, value in source.items():
            target[key] = _merge(target[key], value) if key in target else _plain(value)
        return target
    if (
        isinstance(target, CommentedSeq)
        and isinstance(source, list | tuple)
        and not isinstance(source, str)
    ):
        del target[len(source) :]
        for i, value in enumerate(source):
            if i < len(target):
                target[i] = _merge(target[i], value)
            else:
                target.append(_plain(value))
        return target
    if type(target) is not type(source) and str(target) == str(source):
        # keep the user's spelling ('1' quoted, 0x1f) when the value is the same
        return target if target == source else source
    return target if target == source else _plain(source)


def _plain(value: Any) -> Any:
    if isinstance(value, CommentedMap | CommentedSeq):
        return value
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(_plain(item) for item in value)
    return value


def merge_into(target: CommentedMap, source: Mapping[str, Any]) -> None:
    """Make ``target`` equal to ``source`` in place, keeping what is equal (and its comments)."""
    _merge(target, source)


def replace_object(
    located: Located,
    new_doc: Mapping[str, Any],
    *,
    check: Callable[[str], None] | None = None,
) -> bool:
    """Make the object's document equal to ``new_doc``, keeping comments on what survives."""

    def replace(doc: CommentedMap) -> None:
        _merge(doc, new_doc)

    return update_object(located, replace, check=check)


def document_text(located: Located) -> str:
    """The object's document exactly as it is in the file (without its ``---`` line)."""
    pieces, _ = _load_pieces(located.path)
    text = pieces[_piece_index(pieces, located)].text
    first, _, rest = text.partition("\n")
    return rest if text.startswith("---") and _BARE_START.match(first + "\n") else text


def document_start(located: Located) -> int:
    """The 0-based line of the file where the object's document (its ``---`` line) starts."""
    pieces, _ = _load_pieces(located.path)
    at = _piece_index(pieces, located)
    return sum(piece.text.count("\n") for piece in pieces[:at])


def replace_text(located: Located, text: str) -> bool:
    """Replace the object's document with ``text`` verbatim (``edit``: the user's own bytes)."""
    pieces, crlf = _load_pieces(located.path)
    at = _piece_index(pieces, located)
    old = pieces[at].text
    _check_identity(old, located)
    first, _, _rest = old.partition("\n")
    head = first + "\n" if old.startswith("---") and _BARE_START.match(first + "\n") else ""
    if text and not text.endswith("\n"):
        text += "\n"
    new = head + text
    if new == old:
        return False
    pieces[at] = _Piece(new, is_document=True)
    atomic_write(located.path, _join(pieces, crlf=crlf))
    return True


def remove_object(located: Located) -> None:
    """Remove the object's document; remove the file when no document is left in it."""
    pieces, crlf = _load_pieces(located.path)
    at = _piece_index(pieces, located)
    _check_identity(pieces[at].text, located)
    del pieces[at]
    if not any(_has_content(piece) for piece in pieces):
        located.path.unlink()
        _fsync_dir(located.path.parent)
        return
    atomic_write(located.path, _join(pieces, crlf=crlf))


# ------------------------------------------------------------------------------ new documents


def dump_new(doc: Mapping[str, Any]) -> str:
    """A new manifest in kubectl's ``-o yaml`` layout (2-space maps, dashes at the parent)."""
    rt = YAML(typ="rt")
    rt.width = 4096
    rt.indent(mapping=2, sequence=2, offset=0)
    return _dump(rt, _plain(doc))


def write_new(folder: Path, filename: str, doc: Mapping[str, Any] | str) -> Path:
    """Write ``doc`` (an object, or a document's text as it is) as a new file
    ``folder/filename``; refuses to overwrite (FileExistsError)."""
    path = folder / filename
    folder.mkdir(parents=True, exist_ok=True)
    text = doc if isinstance(doc, str) else dump_new(doc)
    if text and not text.endswith("\n"):
        text += "\n"
    _write_exclusive(path, text.encode("utf-8"))
    return path


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


def _fsync_dir(folder: Path) -> None:
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
    _fsync_dir(path.parent)


def _write_exclusive(path: Path, data: bytes) -> None:
    temp = _write_temp(path, data, 0o644)
    try:
        os.link(temp, path)  # fails with FileExistsError instead of replacing
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    _fsync_dir(path.parent)
