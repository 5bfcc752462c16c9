"""Load Kubernetes YAML with positions, and refuse what would surprise or hurt the reader.

Why not ``yaml.safe_load_all``: it forgets where each value came from, keeps the last of two
duplicate keys without a word, and expands a "billion laughs" alias bomb until memory runs out.
Here libyaml's C composer builds the node graph (which carries every line and column at C
speed), and a small constructor turns nodes into plain data while it

- reports duplicate mapping keys as errors at the second key,
- bounds alias expansion, nesting depth and file size, failing fast with a clear message,
- turns every key into a string, as ``sigs.k8s.io/yaml`` does when it converts YAML to JSON,
- skips empty documents (as kubectl does) and reports non-mapping documents.

A ``Document`` keeps its node tree, so ``Document.position(path)`` answers "which line and
column is ``spec.template.spec.containers[0].image``" only when someone asks (problems only).

``files`` reads the bytes (bounded, never blocking), ``nodes`` turns nodes into data; this module
puts them together into ``Document``s.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

import yaml
from yaml.nodes import Node

from reconciler.errors import Problem
from reconciler.manifests.files import (
    MAX_FILE_BYTES,
    STDIN,
    read_regular_file,
    size_problem,
    sources,
)
from reconciler.manifests.nodes import (
    LOADER,
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    Builder,
    LoadError,
    child,
    compose_first,
    problem,
    syntax_problem,
)

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "STDIN",
    "Document",
    "LoadResult",
    "gc_paused",
    "load_each",
    "load_paths",
    "load_text",
    "read_regular_file",
]


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a manifest file, as plain data, with a way back to its positions."""

    source: str
    index: int
    line: int
    obj: dict[str, Any]
    file_sha256: str
    load_problems: tuple[Problem, ...] = ()
    """Problems found while loading this document (duplicate keys, non-string keys)."""
    _root: Node | None = field(default=None, repr=False, compare=False)
    _text: str | None = field(default=None, repr=False, compare=False)
    """This document's own text, from the start of its first line (to find positions again)."""
    _line0: int = field(default=0, repr=False, compare=False)
    """0-based line of ``_text`` in the file."""
    _parsed: list[Node] = field(default_factory=list, repr=False, compare=False)

    @property
    def text(self) -> str:
        """This document's own text, when it was kept (else empty)."""
        return self._text or ""

    def release(self) -> None:
        """Forget the node tree that ``position`` parsed (it is parsed again if asked again)."""
        self._parsed.clear()

    def without_nodes(self) -> Document:
        """A copy that keeps this document's text instead of its node tree (a fraction of the
        memory); ``position`` then parses that text again, once, when first asked."""
        if self._text is None or self._root is None:
            return self
        return replace(self, _root=None, _parsed=[])

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """(line, column), 1-based, of the key (or item) at ``path``; else its nearest ancestor.

        >>> doc = load_text("a:\\n  b: [1, 2]\\n", source="x").documents[0]
        >>> doc.position(["a", "b", 1]), doc.position(["a", "zz"])
        ((2, 10), (1, 1))
        """
        node, offset = self._root, 0
        if node is None and self._text is not None:
            if not self._parsed:
                self._parsed.extend(compose_first(self._text))
            node, offset = (self._parsed[0] if self._parsed else None), self._line0
        if node is None:
            return (self.line, 1)
        line, column = node.start_mark.line + 1 + offset, node.start_mark.column + 1
        for step in path:
            found = child(node, step)
            if found is None:
                break
            anchor, node = found
            line, column = anchor.start_mark.line + 1 + offset, anchor.start_mark.column + 1
        return (line, column)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Documents and load problems of a set of files, in the order they were given."""

    documents: list[Document]
    problems: list[Problem]
    files: list[str]
    unreadable: frozenset[str]


def load_paths(
    paths: Sequence[str | os.PathLike[str]], *, stdin: TextIO | None = None
) -> LoadResult:
    """Load files, directories (recursively, ``*.yaml``/``*.yml``, sorted) and ``-`` (stdin).

    A path that does not exist, a file that cannot be read or decoded, and a YAML syntax error
    make that file *unreadable*: its objects are unknown (not deleted).
    """
    documents: list[Document] = []
    problems: list[Problem] = []
    files: list[str] = []
    unreadable: set[str] = set()
    with gc_paused():
        for result in load_each(paths, stdin=stdin):
            documents.extend(result.documents)
            problems.extend(result.problems)
            files.extend(result.files)
            unreadable.update(result.unreadable)
    return LoadResult(documents, problems, files, frozenset(unreadable))


def load_each(
    paths: Sequence[str | os.PathLike[str]],
    *,
    stdin: TextIO | None = None,
    keep_nodes: bool = True,
    fast: bool = False,
) -> Iterator[LoadResult]:
    """``load_paths`` one file at a time, so a caller can finish with a file before the next.

    ``keep_nodes=False``: documents keep their text only, and parse it again for ``position``
    (for a validator that needs positions of a few documents out of thousands). ``fast``: also
    parse with ``manifests.fastyaml`` when it reads the file exactly as this module would.
    """
    if fast:
        from reconciler.manifests.fastyaml import load_fast

    problems: list[Problem] = []
    unreadable: set[str] = set()
    for source, data in sources(paths, stdin=stdin, problems=problems, unreadable=unreadable):
        if data is None:
            yield LoadResult([], problems[:], [source], frozenset(unreadable & {source}))
            problems.clear()
            continue
        quick = load_fast(data, source=source) if fast else None
        yield quick if quick is not None else _load(data, source=source, keep_nodes=keep_nodes)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while loading.

    Loading allocates hundreds of thousands of long-lived nodes and almost no cycles; every
    collection would walk all of them again, which costs more than the parsing itself (1,000
    files: 1.2 s with the collector, 0.25 s without). Reference counting still frees garbage.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_text(text: str | bytes, *, source: str) -> LoadResult:
    """Load one file's content (``source`` names it in problems and documents)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > MAX_FILE_BYTES:
        too_big = size_problem(source, len(data))
        return LoadResult([], [too_big], [source], frozenset({source}))
    with gc_paused():
        result = _load(data, source=source)
    return LoadResult(result.documents, result.problems, [source], result.unreadable)


def _load(data: bytes, *, source: str, keep_nodes: bool = True) -> LoadResult:
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = (
            f"invalid UTF-8 byte 0x{data[exc.start]:02x}: manifests must be UTF-8 encoded text"
        )
        return LoadResult(
            [], [problem(source, line, column, message, "encoding")], [source], frozenset({source})
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    documents: list[Document] = []
    problems: list[Problem] = []
    unreadable: set[str] = set()
    loader = LOADER(text)
    index = 0
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:  # pragma: no cover - check_node said there is one
                break
            this = index
            index += 1
            builder = Builder(source)
            try:
                obj = builder.build(root)
            except LoadError as exc:
                mark = exc.node.start_mark
                problems.append(problem(source, mark.line + 1, mark.column + 1, str(exc), exc.rule))
                unreadable.add(source)
                continue
            problems.extend(builder.problems)
            if obj is None:
                continue  # an empty document: skipped, as kubectl does
            if not isinstance(obj, dict):
                what = "a list" if isinstance(obj, list) else f"a {type(obj).__name__} scalar"
                mark = root.start_mark
                problems.append(
                    problem(
                        source,
                        mark.line + 1,
                        mark.column + 1,
                        f"document {this} is {what}, not a mapping: a manifest is an object "
                        "with apiVersion, kind, metadata and spec",
                        "not-a-mapping",
                    )
                )
                continue
            documents.append(
                Document(
                    source=source,
                    index=this,
                    line=root.start_mark.line + 1,
                    obj=obj,
                    file_sha256=digest,
                    load_problems=tuple(builder.problems),
                    _root=root if keep_nodes else None,
                    _text=text[
                        text.rfind("\n", 0, root.start_mark.index) + 1 : root.end_mark.index
                    ],
                    _line0=root.start_mark.line,
                )
            )
    except yaml.MarkedYAMLError as exc:
        problems.append(syntax_problem(source, exc, text))
        unreadable.add(source)
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        reason = getattr(exc, "reason", "") or str(exc)
        character = getattr(exc, "character", None)
        what = f" #x{ord(character):04x}" if isinstance(character, str) and character else ""
        message = f"YAML syntax error: unacceptable character{what}: {reason}"
        problems.append(problem(source, line, column, message, "yaml"))
        unreadable.add(source)
    finally:
        loader.dispose()
    return LoadResult(documents, problems, [source], frozenset(unreadable))
