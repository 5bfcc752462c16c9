"""kubectl's JSONPath dialect (``k8s.io/client-go/util/jsonpath``), for ``-o jsonpath=``,
``custom-columns`` and ``--sort-by``.

It is not RFC 9535 JSONPath: text outside ``{}`` is printed as is, ``{range X}…{end}`` loops,
``{"\\n"}`` prints a string, the results of one action are joined by a space, maps and lists
print as compact JSON, a missing key prints nothing (kubectl allows missing keys), and a filter
``[?(@.status=="True")]`` compares with Go's template rules (a string never equals a number:
an error). The parser follows client-go's, so templates that work with kubectl work here and
the same ones fail.

>>> render("{.items[*].metadata.name}", {"items": [{"metadata": {"name": "a"}},
...                                                 {"metadata": {"name": "b"}}]})
'a b'
>>> render('{range .items[*]}{.n}{"\\\\n"}{end}', {"items": [{"n": 1}, {"n": 2}]})
'1\\n2\\n'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.cli.govalues import compare, go_text, unquote

__all__ = ["JSONPathError", "Template", "parse", "relaxed", "render"]


class JSONPathError(ValueError):
    """A template client-go would refuse, or one that fails on the object."""


_TERMINATORS = set(" \t\r\n.,[]$@{}") | {""}
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$")


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # text field array filter int float bool wildcard recursive union identifier list
    value: Any = None
    nodes: tuple[Node, ...] = ()
    extra: tuple[Any, ...] = ()


@dataclass
class _Parser:
    text: str
    pos: int = 0
    root: list[Node] = field(default_factory=list)

    def parse(self) -> list[Node]:
        """Top level: text and actions (each a ``list`` node)."""
        while self.pos < len(self.text):
            start = self.text.find("{", self.pos)
            if start < 0:
                self.root.append(Node("text", self.text[self.pos :]))
                break
            if start > self.pos:
                self.root.append(Node("text", self.text[self.pos : start]))
            self.pos = start + 1
            self.root.append(Node("list", nodes=tuple(self.action())))
        return self.root

    def action(self) -> list[Node]:
        nodes: list[Node] = []
        while True:
            rest = self.text[self.pos :]
            if rest.startswith("}"):
                self.pos += 1
                return nodes
            if rest.startswith("[?("):
                nodes.append(self.filter())
                continue
            if rest.startswith(".."):
                if nodes and nodes[-1].kind == "recursive":
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(Node("recursive"))
                if self._peek().isalnum() or self._peek() == "_":
                    nodes.append(self.field())
                continue
            ch = self._peek()
            if ch in ("", "\r", "\n"):
                raise JSONPathError("unclosed action")
            if ch in (" ", "@", "$"):
                self.pos += 1
            elif ch == "[":
                nodes.append(self.array())
            elif ch in ('"', "'"):
                nodes.append(self.quote(ch))
            elif ch == ".":
                self.pos += 1
                nodes.append(self.field())
            elif ch in "+-" or ch.isdigit():
                nodes.append(self.number())
            elif ch == "_" or ch.isalnum():
                nodes.append(self.identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: U+{ord(ch):04X} '{ch}'")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _word(self) -> str:
        start = self.pos
        while self._peek() not in _TERMINATORS:
            if self._peek() == "\\":
                self.pos += 1
            self.pos += 1
        return self.text[start : self.pos]

    def field(self) -> Node:
        word = self._word()
        return Node("wildcard") if word == "*" else Node("field", word.replace("\\", ""))

    def identifier(self) -> Node:
        word = self._word()
        if word in ("true", "false"):
            return Node("bool", word == "true")
        return Node("identifier", word)

    def number(self) -> Node:
        start = self.pos
        if self._peek() in "+-":
            self.pos += 1
        while self._peek() == "." or self._peek().isdigit():
            self.pos += 1
        word = self.text[start : self.pos]
        try:
            return Node("int", int(word))
        except ValueError:
            try:
                return Node("float", float(word))
            except ValueError:
                raise JSONPathError(f"cannot parse number {word}") from None

    def quote(self, end: str) -> Node:
        start = self.pos
        self.pos += 1
        while True:
            ch = self._peek()
            if ch in ("", "\n"):
                raise JSONPathError("unterminated quoted string")
            self.pos += 1
            if ch == end and self.text[self.pos - 2] != "\\":
                break
        try:
            return Node("text", unquote(self.text[start + 1 : self.pos - 1]))
        except ValueError as exc:
            raise JSONPathError(
                f"unquote string {self.text[start : self.pos]} error {exc}"
            ) from None

    def array(self) -> Node:
        end = self.text.find("]", self.pos)
        newline = self.text.find("\n", self.pos)
        if end < 0 or 0 <= newline < end:
            raise JSONPathError("unterminated array")
        inner = self.text[self.pos + 1 : end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            union = []
            for part in parts:
                sub = _Parser("{[" + part.strip(" ") + "]}").parse()
                union.append(sub[0])
            return Node("union", nodes=tuple(union))
        if m := _DICT_KEY.match(inner):
            sub = _Parser("{." + m[1] + "}").parse()
            return sub[0] if len(sub[0].nodes) != 1 else sub[0].nodes[0]
        m = _SLICE.match(inner)
        if not m:
            raise JSONPathError(f"invalid array index {inner}")
        params: list[tuple[bool, int, bool]] = []  # (known, value, derived)
        for i, group in enumerate(m.groups()):
            text = (group or "")[1:] if i > 0 else (group or "")
            if group:
                if i > 0 and not text:
                    params.append((False, 0, False))
                else:
                    try:
                        params.append((True, int(text), False))
                    except ValueError:
                        raise JSONPathError(f"array index {text} is not a number") from None
            elif i == 1:
                params.append((True, params[0][1] + 1, True))
            else:
                params.append((False, 0, False))
        return Node("array", extra=tuple(params))

    def filter(self) -> Node:
        self.pos += 3
        start, begin, end, pair = self.pos, False, False, ""
        while True:
            ch = self._peek()
            if ch in ("", "\n"):
                raise JSONPathError("unterminated filter")
            self.pos += 1
            if ch in ('"', "'"):
                if not begin:
                    begin, pair = True, ch
                    continue
                if self.text[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self._peek() != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        text = self.text[start : self.pos - 2]
        m = _FILTER.match(text)
        if not m:
            return Node("filter", "exists", nodes=(_action(text), Node("list")))
        return Node("filter", m[2], nodes=(_action(m[1]), _action(m[3])))


def _action(text: str) -> Node:
    return _Parser("{" + text + "}").parse()[0]


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    nodes: tuple[Node, ...]

    def results(self, data: Any) -> list[list[Any]]:
        """Every action's results (client-go ``FindResults``), ranges unrolled."""
        out: list[list[Any]] = []
        _run(list(self.nodes), [data], out, in_range=False)
        return out

    def render(self, data: Any) -> str:
        return "".join(_print(r) for r in self.results(data))


def _run(nodes: list[Node], cur: list[Any], out: list[list[Any]], *, in_range: bool) -> int:
    """Walk ``nodes`` from the top; returns the index after an ``{end}`` (or len)."""
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if node.kind == "text":
            out.append([node.value])
            i += 1
            continue
        head = node.nodes[0] if node.nodes else None
        if head is not None and head.kind == "identifier" and head.value == "end":
            if not in_range:
                raise JSONPathError("not in range, nothing to end")
            return i + 1
        if head is not None and head.kind == "identifier" and head.value == "range":
            values = _walk(list(node.nodes[1:]), cur)
            body = nodes[i + 1 :]
            consumed = 0
            for value in values or [None]:
                sink: list[list[Any]] = []
                consumed = _run(body, [value] if values else [], sink, in_range=True)
                if values:
                    out.extend(sink)
            i += 1 + consumed
            continue
        out.append(_walk(list(node.nodes), cur))
        i += 1
    return i


def _walk(nodes: list[Node], cur: list[Any]) -> list[Any]:
    for node in nodes:
        cur = _eval(node, cur)
    return cur


def _eval(node: Node, cur: list[Any]) -> list[Any]:
    kind = node.kind
    if kind == "list":
        return _walk(list(node.nodes), cur)
    if kind == "text":
        return [node.value]
    if kind in ("int", "float", "bool"):
        return [node.value for _ in cur]
    if kind == "field":
        return [v[node.value] for v in cur if isinstance(v, dict) and node.value in v]
    if kind == "wildcard":
        out: list[Any] = []
        for v in cur:
            if isinstance(v, dict):
                out.extend(v[k] for k in sorted(v))
            elif isinstance(v, list | str):
                out.extend(v)
        return out
    if kind == "recursive":
        return _descend(cur)
    if kind == "union":
        return [r for sub in node.nodes for r in _eval(sub, cur)]
    if kind == "array":
        return _slice(node, cur)
    if kind == "filter":
        return _filter(node, cur)
    if kind == "identifier":
        raise JSONPathError(
            "not in range, nothing to end"
            if node.value == "end"
            else f"unrecognized identifier {node.value}"
        )
    raise JSONPathError(f"unexpected Node {kind}")


def _descend(cur: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in cur:
        children = [v[k] for k in sorted(v)] if isinstance(v, dict) else v
        if isinstance(v, dict | list) and children:
            out.append(v)
            out.extend(_descend(list(children)))
    return out


def _slice(node: Node, cur: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in cur:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JSONPathError(f"{_go_type(v)} is not array or slice")
        (k0, start, _), (k1, stop, derived), (k2, step, _) = node.extra
        n = len(v)
        start = start if k0 else 0
        start = start + n if start < 0 else start
        stop = stop if k1 else n
        if stop < 0 or (stop == 0 and derived):
            stop += n
        if stop == start:
            continue
        if start >= n or start < 0:
            raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
        if stop > n or stop < 0:
            raise JSONPathError(f"array index out of bounds: index {stop - 1}, length {n}")
        if start > stop:
            raise JSONPathError(f"starting index {start} is greater than ending index {stop}")
        if k2 and step <= 0:
            raise JSONPathError("step must be > 0")
        out.extend(v[start:stop][:: step if k2 else 1])
    return out


def _filter(node: Node, cur: list[Any]) -> list[Any]:
    out: list[Any] = []
    left_node, right_node = node.nodes
    if node.value not in ("exists", "=~", "<", ">", "==", "!=", "<=", ">="):
        raise JSONPathError(f"unrecognized filter operator {node.value}")
    for v in cur:
        if not isinstance(v, list):
            raise JSONPathError(f"{go_text(v)} is not array or slice and cannot be filtered")
        for item in v:
            lefts = _eval(left_node, [item])
            if node.value == "exists":
                if lefts:
                    out.append(item)
                continue
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathError("can only compare one element at a time")
            rights = _eval(right_node, [item])
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if node.value == "=~":
                if not isinstance(lefts[0], str) or not isinstance(rights[0], str):
                    raise JSONPathError("regexp search only support string now")
                ok = re.search(rights[0], lefts[0]) is not None
            else:
                try:
                    ok = compare(node.value, lefts[0], rights[0])
                except ValueError as exc:
                    raise JSONPathError(str(exc)) from None
            if ok:
                out.append(item)
    return out


def _go_type(v: Any) -> str:
    return {dict: "map[string]interface {}", str: "string", bool: "bool", int: "int64"}.get(
        type(v), "float64"
    )


def _print(results: list[Any]) -> str:
    """client-go ``PrintResults``: maps and lists as compact JSON, scalars as Go prints them."""
    return " ".join(_json(r) if isinstance(r, dict | list) else go_text(r) for r in results)


def go_numbers(value: Any) -> Any:
    """Integral floats as integers, as Go's ``encoding/json`` writes ``4.0``: ``4``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [go_numbers(v) for v in value]
    return value


def _json(value: Any) -> str:
    text = json.dumps(go_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def parse(text: str) -> Template:
    try:
        nodes = _Parser(text).parse()
    except IndexError:
        raise JSONPathError("unclosed action") from None
    return Template(text, tuple(nodes))


def render(text: str, data: Any) -> str:
    return parse(text).render(data)


_RELAXED = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")


def relaxed(expression: str) -> str:
    """kubectl's ``RelaxedJSONPathExpression``: ``a.b``, ``.a.b``, ``{a.b}`` -> ``{.a.b}``."""
    if not expression:
        return expression
    m = _RELAXED.match(expression)
    if not m:
        raise JSONPathError(
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
            "'{name1.name2}' or '{.name1.name2}'"
        )
    return "{." + (m[1] or m[2]) + "}"
