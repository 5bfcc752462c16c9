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

Writes are atomic (``folder.files.atomic_write``). Layer 1 and finding an object's document
are ``folder.documents``; this module is layers 2 and 3 and the verbs' edits.
"""

from __future__ import annotations

import difflib
import io
import itertools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.errors import ReconcilerError
from reconciler.folder.documents import (
    BARE_START,
    Located,
    Piece,
    check_identity,
    documents_of_text,
    find_object,
    has_content,
    is_filler,
    join,
    load_pieces,
    piece_index,
    ref_of,
    refs_in_file,
)
from reconciler.folder.files import atomic_write, fsync_dir, iter_manifest_files, write_exclusive

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

_KEY_ONLY = re.compile(
    r"^(?P<lead> *(?:- +)*)(?:[^\s#'\"-][^#:]*|\"[^\"]*\"|'[^']*'):[ \t]*(?:#.*)?$"
)
_DASH = re.compile(r"^( *)-( +)\S")


# ------------------------------------------------------------------------------ round-trip I/O


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
    if text.startswith("---") and BARE_START.match(first + "\n"):
        head, body = first + "\n", rest
    # comments after the last node belong to the document, not to that node: keep them last
    lines = body.splitlines(keepends=True)
    cut = len(lines)
    while cut and is_filler(lines[cut - 1]):
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
    pieces, crlf = load_pieces(located.path)
    at = piece_index(pieces, located)
    old = pieces[at].text
    check_identity(old, located)
    new = _rewrite(old, mutate)
    if new == old:
        return False
    if old.endswith("\n") and not new.endswith("\n"):
        new += "\n"
    pieces[at] = Piece(new, is_document=True)
    if check is not None:
        check("".join(piece.text for piece in pieces))
    atomic_write(located.path, join(pieces, crlf=crlf))
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
    pieces, _ = load_pieces(located.path)
    text = pieces[piece_index(pieces, located)].text
    first, _, rest = text.partition("\n")
    return rest if text.startswith("---") and BARE_START.match(first + "\n") else text


def document_start(located: Located) -> int:
    """The 0-based line of the file where the object's document (its ``---`` line) starts."""
    pieces, _ = load_pieces(located.path)
    at = piece_index(pieces, located)
    return sum(piece.text.count("\n") for piece in pieces[:at])


def replace_text(located: Located, text: str) -> bool:
    """Replace the object's document with ``text`` verbatim (``edit``: the user's own bytes)."""
    pieces, crlf = load_pieces(located.path)
    at = piece_index(pieces, located)
    old = pieces[at].text
    check_identity(old, located)
    first, _, _rest = old.partition("\n")
    head = first + "\n" if old.startswith("---") and BARE_START.match(first + "\n") else ""
    if text and not text.endswith("\n"):
        text += "\n"
    new = head + text
    if new == old:
        return False
    pieces[at] = Piece(new, is_document=True)
    atomic_write(located.path, join(pieces, crlf=crlf))
    return True


def remove_object(located: Located) -> None:
    """Remove the object's document; remove the file when no document is left in it."""
    pieces, crlf = load_pieces(located.path)
    at = piece_index(pieces, located)
    check_identity(pieces[at].text, located)
    del pieces[at]
    if not any(has_content(piece) for piece in pieces):
        located.path.unlink()
        fsync_dir(located.path.parent)
        return
    atomic_write(located.path, join(pieces, crlf=crlf))


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
    write_exclusive(path, text.encode("utf-8"))
    return path
