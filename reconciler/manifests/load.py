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
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import io
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem, Severity

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
]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""A manifest file larger than this is refused before it is parsed (etcd keeps 1.5 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences; a Deployment needs about 12."""
MAX_ALIAS_NODES = 10_000
"""Nodes that alias expansion may add to one document (a billion laughs needs 10**9)."""

STDIN = "<stdin>"
_YAML_SUFFIXES = (".yaml", ".yml")

_loader_cls: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_scalars = yaml.SafeLoader("")  # only its scalar constructors are used; they read node.value

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BINARY = "tag:yaml.org,2002:binary"
_MAP_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:omap"})
_SEQ_TAGS = frozenset({"tag:yaml.org,2002:seq"})


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
                self._parsed.extend(_compose_first(self._text))
            node, offset = (self._parsed[0] if self._parsed else None), self._line0
        if node is None:
            return (self.line, 1)
        line, column = node.start_mark.line + 1 + offset, node.start_mark.column + 1
        for step in path:
            found = _child(node, step)
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
    for source, data in _sources(paths, stdin=stdin, problems=problems, unreadable=unreadable):
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
        problem = _size_problem(source, len(data))
        return LoadResult([], [problem], [source], frozenset({source}))
    with gc_paused():
        result = _load(data, source=source)
    return LoadResult(result.documents, result.problems, [source], result.unreadable)


# --- files ------------------------------------------------------------------------------------


def _sources(
    paths: Sequence[str | os.PathLike[str]],
    *,
    stdin: TextIO | None,
    problems: list[Problem],
    unreadable: set[str],
) -> Iterator[tuple[str, bytes | None]]:
    """(source, bytes) per file; bytes is None when the file could not be read (problem added)."""
    seen: set[str] = set()
    for raw in paths:
        given = os.fspath(raw)
        if given == "-":
            yield STDIN, _read_stdin(stdin, problems=problems, unreadable=unreadable)
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(_walk(given, ""), key=lambda rest: rest.split("/"))
            candidates: list[str | Path] = [os.path.join(given, rest) for rest in found]
            prefix = "" if given in (".", "./") else given.rstrip("/") + "/"
            names = [prefix + rest for rest in found]
        else:
            candidates, names = [path], [given]
        for candidate, name in zip(candidates, names, strict=True):
            if name in seen:
                continue
            seen.add(name)
            yield name, _read_file(candidate, name=name, problems=problems, unreadable=unreadable)


def _walk(root: str, rest: str) -> Iterator[str]:
    """Paths (relative, with "/") of the ``*.yaml``/``*.yml`` regular files under ``root``
    (``os.scandir``: one system call per directory instead of a stat per file)."""
    try:
        entries = list(os.scandir(os.path.join(root, rest) if rest else root))
    except OSError:
        return
    for entry in entries:
        name = f"{rest}/{entry.name}" if rest else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):  # as rglob: symlinked folders not entered
                yield from _walk(root, name)
            elif entry.name.endswith(_YAML_SUFFIXES) and entry.is_file():
                yield name
        except OSError:
            continue


def _read_file(
    path: str | Path, *, name: str, problems: list[Problem], unreadable: set[str]
) -> bytes | None:
    try:
        # O_NONBLOCK and fstat on the open file: a FIFO (or a file replaced by one after a
        # directory scan) must be refused, not block the reader (and the daemon) forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError
                problems.append(_problem(name, 1, 1, "not a regular file", "read"))
                unreadable.add(name)
                return None
            if st.st_size > MAX_FILE_BYTES:
                problems.append(_size_problem(name, st.st_size))
                unreadable.add(name)
                return None
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # it grew while we read it
            problems.append(_size_problem(name, len(data)))
            unreadable.add(name)
            return None
        return data
    except FileNotFoundError:
        message = "no such file or directory"
    except IsADirectoryError:
        message = "is a directory"
    except OSError as exc:
        message = exc.strerror or str(exc)
    problems.append(_problem(name, 1, 1, message, "read"))
    unreadable.add(name)
    return None


def read_regular_file(path: str | os.PathLike[str]) -> bytes | None:
    """A manifest file's bytes, or None when it is not a readable regular file (a FIFO, a
    directory, gone, too large). Never blocks: callers in the daemon rely on that."""
    return _read_file(Path(path), name=os.fspath(path), problems=[], unreadable=set())


def _read_stdin(
    stdin: TextIO | None, *, problems: list[Problem], unreadable: set[str]
) -> bytes | None:
    stream = stdin if stdin is not None else sys.stdin
    buffer = getattr(stream, "buffer", None)
    data: str | bytes = (
        buffer.read(MAX_FILE_BYTES + 1) if buffer is not None else stream.read(MAX_FILE_BYTES + 1)
    )
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        problems.append(_size_problem(STDIN, len(raw)))
        unreadable.add(STDIN)
        return None
    return raw


def _size_problem(source: str, size: int) -> Problem:
    return _problem(
        source,
        1,
        1,
        f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes",
        "size-limit",
    )


def _problem(source: str, line: int, column: int, message: str, rule: str) -> Problem:
    return Problem(
        file=source, line=line, column=column, severity=Severity.ERROR, message=message, rule=rule
    )


# --- YAML -------------------------------------------------------------------------------------


class _LoadError(Exception):
    """A document cannot be turned into data at all (alias bomb, depth, recursion, tag)."""

    def __init__(self, message: str, node: Node, rule: str) -> None:
        super().__init__(message)
        self.node = node
        self.rule = rule


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
            [], [_problem(source, line, column, message, "encoding")], [source], frozenset({source})
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    documents: list[Document] = []
    problems: list[Problem] = []
    unreadable: set[str] = set()
    loader = _loader_cls(text)
    index = 0
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:  # pragma: no cover - check_node said there is one
                break
            this = index
            index += 1
            builder = _Builder(source)
            try:
                obj = builder.build(root)
            except _LoadError as exc:
                mark = exc.node.start_mark
                problems.append(
                    _problem(source, mark.line + 1, mark.column + 1, str(exc), exc.rule)
                )
                unreadable.add(source)
                continue
            problems.extend(builder.problems)
            if obj is None:
                continue  # an empty document: skipped, as kubectl does
            if not isinstance(obj, dict):
                what = "a list" if isinstance(obj, list) else f"a {type(obj).__name__} scalar"
                mark = root.start_mark
                problems.append(
                    _problem(
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
        problems.append(_syntax_problem(source, exc, text))
        unreadable.add(source)
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        reason = getattr(exc, "reason", "") or str(exc)
        character = getattr(exc, "character", None)
        what = f" #x{ord(character):04x}" if isinstance(character, str) and character else ""
        message = f"YAML syntax error: unacceptable character{what}: {reason}"
        problems.append(_problem(source, line, column, message, "yaml"))
        unreadable.add(source)
    finally:
        loader.dispose()
    return LoadResult(documents, problems, [source], frozenset(unreadable))


def _compose_first(text: str) -> list[Node]:
    """The node tree of the first document of ``text`` (empty if there is none)."""
    loader = _loader_cls(text)
    try:
        node = loader.get_node() if loader.check_node() else None
        return [node] if node is not None else []
    except yaml.YAMLError:  # pragma: no cover - the text parsed before
        return []
    finally:
        loader.dispose()


def _syntax_problem(source: str, exc: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem or _tab_near(text, line):
        message = f"YAML syntax error: {problem} (tab characters cannot indent YAML; use spaces)"
        return _problem(source, line, column, message, "tab")
    # "YAML syntax error: while parsing a block mapping: expected <block end>", or without a
    # context "YAML syntax error: mapping values are not allowed here" (never "error::")
    context = f"{exc.context}: " if exc.context else ""
    return _problem(source, line, column, f"YAML syntax error: {context}{problem}", "yaml")


def _tab_near(text: str, line: int) -> bool:
    lines = io.StringIO(text).readlines()[max(0, line - 2) : line]
    return any(
        candidate[: len(candidate) - len(candidate.lstrip())].count("\t") for candidate in lines
    )


class _Builder:
    """Nodes -> plain data, with duplicate-key problems and alias/depth bounds."""

    __slots__ = ("alias_budget", "built", "problems", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.built: set[int] = set()  # node ids already built once: seeing one again is an alias
        self.alias_budget = MAX_ALIAS_NODES

    def build(self, node: Node) -> Any:
        return self._value(node, 0, aliased=False)

    def _value(self, node: Node, depth: int, *, aliased: bool) -> Any:
        if node.__class__ is ScalarNode:
            if node.tag == _STR:
                return node.value
            return _scalar(node)
        # A node seen before is an alias; a recursive alias is seen again and again until
        # either bound below stops it.
        key = id(node)
        if key in self.built and not aliased:
            self.alias_budget -= _size(node, limit=self.alias_budget + 1)
            if self.alias_budget < 0:
                raise _LoadError(
                    f"alias expansion exceeds {MAX_ALIAS_NODES} nodes (a 'billion laughs' "
                    "document?); write the values out instead of aliasing them",
                    node,
                    "alias-limit",
                )
            aliased = True
        self.built.add(key)
        if depth >= MAX_DEPTH:
            raise _LoadError(f"nesting deeper than {MAX_DEPTH} levels", node, "depth-limit")
        if isinstance(node, SequenceNode):
            if node.tag not in _SEQ_TAGS:
                raise _LoadError(f"unsupported YAML tag {node.tag!r}", node, "yaml")
            return [self._value(item, depth + 1, aliased=aliased) for item in node.value]
        if isinstance(node, MappingNode):
            if node.tag not in _MAP_TAGS:
                raise _LoadError(f"unsupported YAML tag {node.tag!r}", node, "yaml")
            return self._mapping(node, depth, aliased=aliased)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        raise _LoadError("unknown YAML node", node, "yaml")  # pragma: no cover

    def _mapping(self, node: MappingNode, depth: int, *, aliased: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] | None = None
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                name = key_node.value
            elif key_node.tag == _MERGE:
                merged = merged or {}
                self._merge(merged, value_node, depth, aliased=aliased)
                continue
            elif isinstance(key_node, ScalarNode):
                name = _key(key_node)
            else:
                mark = key_node.start_mark
                self.problems.append(
                    _problem(
                        self.source,
                        mark.line + 1,
                        mark.column + 1,
                        "mapping keys must be strings, not a list or a mapping",
                        "yaml",
                    )
                )
                continue
            if name in out:
                self._duplicate(node, key_node, name)
            out[name] = self._value(value_node, depth + 1, aliased=aliased)
        if merged:
            return {**merged, **out}
        return out

    def _merge(self, into: dict[str, Any], node: Node, depth: int, *, aliased: bool) -> None:
        """``<<: *base`` or ``<<: [*a, *b]``: earlier sources win, explicit keys win over all."""
        value = self._value(node, depth + 1, aliased=aliased)
        sources = value if isinstance(value, list) else [value]
        for source in reversed(sources):
            if not isinstance(source, dict):
                raise _LoadError("a merge key '<<' needs a mapping or a list of them", node, "yaml")
            into.update(source)

    def _duplicate(self, node: MappingNode, key_node: Node, name: str) -> None:
        first = next(k for k, _ in node.value if isinstance(k, ScalarNode) and _safe_key(k) == name)
        mark = key_node.start_mark
        self.problems.append(
            _problem(
                self.source,
                mark.line + 1,
                mark.column + 1,
                f'duplicate key "{name}" (first at line {first.start_mark.line + 1}); '
                "YAML would silently keep only the last one",
                "duplicate-key",
            )
        )


def _size(node: Node, *, limit: int) -> int:
    """Nodes under ``node`` (shared nodes counted each time), stopping once past ``limit``."""
    count = 0
    pending = [node]
    while pending and count <= limit:
        current = pending.pop()
        count += 1
        if isinstance(current, SequenceNode):
            pending.extend(current.value)
        elif isinstance(current, MappingNode):
            for pair in current.value:
                pending.extend(pair)
    return count


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _INT:
        try:
            return _scalars.construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise _LoadError(
                f"integer of {len(node.value)} characters is too large", node, "yaml"
            ) from None
    if tag == _BOOL:
        return _scalars.construct_yaml_bool(node)
    if tag == _NULL:
        return None
    if tag == _FLOAT:
        return _scalars.construct_yaml_float(node)
    if tag in (_TIMESTAMP, _BINARY):
        return node.value  # kept as written: JSON has no timestamp or bytes type
    if tag.startswith("tag:yaml.org,2002:"):
        raise _LoadError(f"unsupported YAML tag {tag!r}", node, "yaml")
    raise _LoadError(
        f"unsupported YAML tag {tag!r}: Kubernetes manifests use plain YAML", node, "yaml"
    )


def _key(node: ScalarNode) -> str:
    """A mapping key as a string, the way sigs.k8s.io/yaml converts YAML keys to JSON."""
    if node.tag == _STR:
        return str(node.value)
    value = _scalar(node)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):  # pragma: no cover - binary is kept as text
        return base64.b64encode(value).decode()
    return str(value)


def _child(node: Node, step: str | int) -> tuple[Node, Node] | None:
    """(anchor for the position, child node) of one path step, through merge keys too."""
    if isinstance(node, MappingNode) and isinstance(step, str):
        merges: list[Node] = []
        match: tuple[Node, Node] | None = None
        for key_node, value_node in node.value:  # the last of duplicate keys is the one kept
            if key_node.tag == _MERGE:
                merges.append(value_node)
            elif isinstance(key_node, ScalarNode) and _safe_key(key_node) == step:
                match = (key_node, value_node)
        if match is not None:
            return match
        for merge in merges:
            candidates = merge.value if isinstance(merge, SequenceNode) else [merge]
            for candidate in candidates:
                found = _child(candidate, step)
                if found is not None:
                    return found
        return None
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        item: Node = node.value[step]
        return item, item
    return None


def _safe_key(node: ScalarNode) -> str | None:
    try:
        return _key(node)
    except (_LoadError, ValueError):
        return None
