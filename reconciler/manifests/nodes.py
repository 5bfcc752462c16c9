"""YAML nodes to plain data: the careful constructor behind ``manifests.load``.

libyaml's C composer builds the node graph (every line and column at C speed); the ``Builder``
here turns nodes into plain data while it reports duplicate keys at the second key, bounds alias
expansion and nesting depth (a "billion laughs" fails fast), turns every key into a string as
``sigs.k8s.io/yaml`` does, and refuses tags Kubernetes manifests never use. ``child`` walks
back from a field path to the node that wrote it, for positions in problems.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem, Severity

__all__ = [
    "LOADER",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "Builder",
    "LoadError",
    "child",
    "compose_first",
    "problem",
    "syntax_problem",
]

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences; a Deployment needs about 12."""
MAX_ALIAS_NODES = 10_000
"""Nodes that alias expansion may add to one document (a billion laughs needs 10**9)."""

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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


class LoadError(Exception):
    """A document cannot be turned into data at all (alias bomb, depth, recursion, tag)."""

    def __init__(self, message: str, node: Node, rule: str) -> None:
        super().__init__(message)
        self.node = node
        self.rule = rule


def compose_first(text: str) -> list[Node]:
    """The node tree of the first document of ``text`` (empty if there is none)."""
    loader = LOADER(text)
    try:
        node = loader.get_node() if loader.check_node() else None
        return [node] if node is not None else []
    except yaml.YAMLError:  # pragma: no cover - the text parsed before
        return []
    finally:
        loader.dispose()


def syntax_problem(source: str, exc: yaml.MarkedYAMLError, text: str) -> Problem:
    """A YAML syntax error as a problem at its mark, saying so when a tab is the cause."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or "invalid YAML"
    if "'\\t'" in what or _tab_near(text, line):
        message = f"YAML syntax error: {what} (tab characters cannot indent YAML; use spaces)"
        return problem(source, line, column, message, "tab")
    # "YAML syntax error: while parsing a block mapping: expected <block end>", or without a
    # context "YAML syntax error: mapping values are not allowed here" (never "error::")
    context = f"{exc.context}: " if exc.context else ""
    return problem(source, line, column, f"YAML syntax error: {context}{what}", "yaml")


def _tab_near(text: str, line: int) -> bool:
    lines = io.StringIO(text).readlines()[max(0, line - 2) : line]
    return any(
        candidate[: len(candidate) - len(candidate.lstrip())].count("\t") for candidate in lines
    )


class Builder:
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
                raise LoadError(
                    f"alias expansion exceeds {MAX_ALIAS_NODES} nodes (a 'billion laughs' "
                    "document?); write the values out instead of aliasing them",
                    node,
                    "alias-limit",
                )
            aliased = True
        self.built.add(key)
        if depth >= MAX_DEPTH:
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", node, "depth-limit")
        if isinstance(node, SequenceNode):
            if node.tag not in _SEQ_TAGS:
                raise LoadError(f"unsupported YAML tag {node.tag!r}", node, "yaml")
            return [self._value(item, depth + 1, aliased=aliased) for item in node.value]
        if isinstance(node, MappingNode):
            if node.tag not in _MAP_TAGS:
                raise LoadError(f"unsupported YAML tag {node.tag!r}", node, "yaml")
            return self._mapping(node, depth, aliased=aliased)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        raise LoadError("unknown YAML node", node, "yaml")  # pragma: no cover

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
                    problem(
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
                raise LoadError("a merge key '<<' needs a mapping or a list of them", node, "yaml")
            into.update(source)

    def _duplicate(self, node: MappingNode, key_node: Node, name: str) -> None:
        first = next(k for k, _ in node.value if isinstance(k, ScalarNode) and _safe_key(k) == name)
        mark = key_node.start_mark
        self.problems.append(
            problem(
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
            raise LoadError(
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
        raise LoadError(f"unsupported YAML tag {tag!r}", node, "yaml")
    raise LoadError(
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


def child(node: Node, step: str | int) -> tuple[Node, Node] | None:
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
                found = child(candidate, step)
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
    except (LoadError, ValueError):
        return None


def problem(source: str, line: int, column: int, message: str, rule: str) -> Problem:
    return Problem(
        file=source, line=line, column=column, severity=Severity.ERROR, message=message, rule=rule
    )
