"""Parse manifests fast, and fall back to the careful loader whenever in doubt.

``validate`` in CI reads thousands of files and finds a problem in a few. Composing every
document with positions (``manifests.load``) costs most of the run, so here the plain data
comes from a Rust parser (``yaml-rs``: no node objects, no positions) and positions are found
later, only for the documents that have a finding (``Document.position`` parses that document's
own text again). What this must never do is read a file differently from the careful loader,
so a file goes to the careful loader instead when yaml-rs would not read it the same way:

* anything the careful loader reports or bounds: duplicate keys, aliases and anchors (alias
  bombs), merge keys, tags, tabs, ``%`` directives, ``...`` markers, deep nesting;
* YAML 1.1 scalars that a YAML 1.2 parser reads otherwise (``yes``/``on``/``y`` as booleans,
  ``0755`` octal, ``1e3`` as text, ``1_000``, ``1:30`` sexagesimal, ``0b1010``, ``0o17``);
* non-string keys (``80: http``), which the careful loader turns into strings.

A file is split at its ``---`` lines and read document by document, so only the documents in
doubt take the careful path (the whole file does when end markers or directives make the split
unsafe).

The screen is a few regular expressions run at C speed over the text; a false alarm costs only
the careful (slower) path for that file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from reconciler.errors import Problem
from reconciler.manifests.load import Document, LoadResult, _load

__all__ = ["load_fast"]

try:
    import yaml_rs

    _loads: Any = yaml_rs.loads
except ImportError:  # pragma: no cover - the careful loader does all the work
    _loads = None

_END = r"[ \t]*(?:[,\]}]|#.*$|$)"
_PLAIN = r"[:\-,\[][ \t]+"  # where a plain value or item starts (after "key:", "- ", "[", ",")
_REFS = re.compile(r"(?:^|[\s\[{,])[&*!]\S", re.MULTILINE)  # anchors, aliases, tags
_SEPARATOR_CONTENT = re.compile(r"^---[ \t]*[^\s]", re.MULTILINE)  # e.g. "--- {a: 1}"
_DEEP = "\n" + " " * 100  # deep block nesting
_HUGE = re.compile(r"[0-9]{1000}")  # integers Python cannot print (the careful loader refuses)
_YAML11 = re.compile(
    # YAML 1.1 scalars that a YAML 1.2 parser reads otherwise (booleans, octal, sexagesimal,
    # exponents without a dot or sign, underscores, 0b/0o) ...
    _PLAIN + r"(?:(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF)" + _END + r"|[-+]?[0-9]"
    r"(?:[0-7_]*[0-9_.]*(?:[eE][-+]?[0-9]+|:[0-5]?[0-9]|_|[bo][0-9]))[^\s,\]}#]*"
    + _END
    + r"|[-+]?0[0-7_]+"
    + _END
    + ")",
    re.MULTILINE,
)
_KEYS = re.compile(  # keys that are not strings (numbers, booleans, null)
    r"^[ \t]*(?:-[ \t]+)?(?=[-+.0-9~tTfFnNyYoO][^a-z]|[tTfFnNyYoO][a-zA-Z]{0,4}[ \t]*:)"
    r"(?:[-+.0-9~][^:\s\"']*|true|false|null|True|False|Null|TRUE"
    r"|FALSE|NULL|[yYnN]|[yY]es|[nN]o|[oO]n|[oO]ff)[ \t]*:(?:[ \t]|$)",
    re.MULTILINE,
)


def _doubtful(text: str) -> bool:
    """Whether yaml-rs might read this document differently from the careful loader."""
    if "\t" in text or "<<" in text or "[[" in text or "{{" in text or "[{" in text:
        return True
    if _DEEP in text or _HUGE.search(text):
        return True  # deep nesting, integers too large
    if ("&" in text or "*" in text or "!" in text) and _REFS.search(text):
        return True
    return bool(_YAML11.search(text) or _KEYS.search(text))


def _stream_doubtful(text: str) -> bool:
    """What makes splitting a file at its ``---`` lines unsafe: end markers, directives,
    content on a separator line (``--- |``)."""
    if "\n..." in text or "\n%" in text or text.startswith(("%", "...")):
        return True
    return "---" in text and _SEPARATOR_CONTENT.search(text) is not None


_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_CONTENT = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)
_DOUBT = object()
_FIRST_AT = re.compile(r"\(first at line (\d+)\)")  # duplicate-key messages name a line too


def load_fast(data: bytes, *, source: str) -> LoadResult | None:
    """The documents of one file, or None when the careful loader must read it all instead.

    A file of many documents is read one document at a time: a document in doubt (or with an
    error) goes to the careful loader alone, so one duplicate key does not slow down the other
    999 documents of an ``all.yaml``.
    """
    if _loads is None:  # pragma: no cover
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _stream_doubtful(text):
        return None
    segments = _segments(text)
    digest = hashlib.sha256(data).hexdigest()
    documents: list[Document] = []
    problems: list[Problem] = []
    unreadable = False
    for index, (start, end, line0) in enumerate(segments):
        piece = text[start:end]
        value = _quick(piece)
        if value is _DOUBT or (value is not None and not isinstance(value, dict)):
            if len(segments) == 1:
                return None
            careful = _careful(piece, source=source, line0=line0, index=index, digest=digest)
            documents.extend(careful.documents)
            problems.extend(careful.problems)
            unreadable = unreadable or bool(careful.unreadable)
            continue
        if value is None:
            continue  # an empty document, skipped as kubectl does
        skip = piece.find("\n") + 1 if piece.startswith("---") else 0  # the separator line
        first = _CONTENT.search(piece, skip)
        line = line0 + (piece.count("\n", 0, first.start()) if first else 0) + 1
        documents.append(
            Document(
                source=source,
                index=index,
                line=line,
                obj=value,
                file_sha256=digest,
                _text=piece,
                _line0=line0,
            )
        )
    return LoadResult(documents, problems, [source], frozenset({source} if unreadable else ()))


def _quick(piece: str) -> Any:
    """One document's data from yaml-rs, or ``_DOUBT``."""
    if _doubtful(piece):
        return _DOUBT
    try:
        return _loads(piece, parse_datetime=False)
    except Exception:  # any error: the careful loader words it, with its position
        return _DOUBT


def _careful(piece: str, *, source: str, line0: int, index: int, digest: str) -> LoadResult:
    """One document read by the careful loader, its lines made the file's again."""
    result = _load(piece.encode("utf-8"), source=source, keep_nodes=False)

    def shift(problem: Problem) -> Problem:
        message = _FIRST_AT.sub(lambda m: f"(first at line {int(m.group(1)) + line0})",
                                problem.message)  # fmt: skip
        return replace(problem, line=problem.line + line0, message=message)

    documents = [
        replace(
            doc,
            index=index + doc.index,
            line=doc.line + line0,
            file_sha256=digest,
            load_problems=tuple(shift(p) for p in doc.load_problems),
            _line0=doc._line0 + line0,
        )
        for doc in result.documents
    ]
    return LoadResult(documents, [shift(p) for p in result.problems], [source], result.unreadable)


def _segments(text: str) -> list[tuple[int, int, int]]:
    """(start, end, 0-based first line) of each document, split at ``---`` lines.

    Text before the first separator is a document only if it holds more than comments.
    """
    cuts = [m.start() for m in _SEPARATOR.finditer(text)]
    bounds: list[tuple[int, int]] = []
    if not cuts or _CONTENT.search(text, 0, cuts[0]):
        bounds.append((0, cuts[0] if cuts else len(text)))
    for i, cut in enumerate(cuts):
        bounds.append((cut, cuts[i + 1] if i + 1 < len(cuts) else len(text)))
    out = []
    line, at = 0, 0
    for start, end in bounds:
        line += text.count("\n", at, start)
        at = start
        out.append((start, end, line))
    return out
