"""``-o go-template=…``: the part of Go's ``text/template`` that kubectl users write.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming; field chains on the data
(``.metadata.name``), on variables (``$x.a``) and ``$``; string (``"…"``, raw `````…`````),
number, ``true``/``false``/``nil`` literals; pipelines (``|``) and parenthesised ones;
``if``/``else if``/``else``, ``range`` (with ``$i, $e :=`` and ``else``), ``with``, variables
(``$x := …``), comments; and the functions ``index``, ``len``, ``print``, ``printf``,
``println``, ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``and``, ``or``, ``not`` plus
kubectl's ``exists`` and ``base64decode``. Values print as Go's ``fmt`` prints them: a missing
map key is ``<no value>``, ``index`` of a missing key ``<nil>``, a map ``map[k:v]``.

>>> render('{{range .items}}{{.metadata.name}}{{"\\\\n"}}{{end}}',
...        {"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]})
'a\\nb\\n'
>>> render('{{index .metadata.labels "app"}} {{if .spec}}yes{{else}}no{{end}}',
...        {"metadata": {"labels": {"app": "web"}}})
'web no'
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.cli.govalues import compare, go_text, truth, unquote

__all__ = ["TemplateError", "render"]


class TemplateError(ValueError):
    """A template Go would refuse to parse, or one that fails while executing."""


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<decl>:=|=)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<num>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
    )""",
    re.X,
)


@dataclass
class _Node:
    kind: str  # text action if range with
    text: str = ""
    pipe: list[Any] | None = None
    decl: tuple[str, ...] = ()
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _lex_action(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {text[pos:].strip()[:1]!r} in command")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _split(template: str) -> list[tuple[str, str]]:
    """("text", t) and ("action", a) pieces, with ``{{-``/``-}}`` trimming applied."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            pieces.append(("text", template[pos:]))
            return pieces
        text = template[pos:start]
        inner_start = start + 2
        if template.startswith("{{- ", start):
            text = text.rstrip(" \t\r\n")
            inner_start += 2
        end = template.find("}}", inner_start)
        if end < 0:
            raise TemplateError("unclosed action")
        inner = template[inner_start:end]
        pos = end + 2
        if inner.endswith(" -"):
            inner = inner[:-2]
            while pos < len(template) and template[pos] in " \t\r\n":
                pos += 1
        pieces.append(("text", text))
        pieces.append(("action", inner.strip()))


def _parse(template: str) -> list[_Node]:
    pieces = [p for p in _split(template) if p != ("text", "")]
    root: list[_Node] = []
    # (the block node, the list being filled, whether its {{end}} also closes the one below:
    # an ``else if`` is an ``if`` nested in the else branch that shares the outer {{end}})
    stack: list[tuple[_Node | None, list[_Node], bool]] = [(None, root, False)]
    for kind, value in pieces:
        out = stack[-1][1]
        if kind == "text":
            out.append(_Node("text", value))
            continue
        if value.startswith("/*"):
            continue
        tokens = _lex_action(value)
        if not tokens:
            raise TemplateError("missing value for command")
        head = tokens[0][1] if tokens[0][0] == "word" else ""
        if head in ("if", "range", "with"):
            decl, pipe = _declaration(tokens[1:])
            node = _Node(head, pipe=_pipeline(pipe), decl=decl)
            out.append(node)
            stack.append((node, node.body, False))
        elif head == "else":
            owner, _, chained = stack[-1]
            if owner is None:
                raise TemplateError("unexpected {{else}}")
            orelse = owner.orelse
            stack[-1] = (owner, orelse, chained)
            if len(tokens) > 1 and tokens[1] == ("word", "if"):
                decl, pipe = _declaration(tokens[2:])
                nested = _Node("if", pipe=_pipeline(pipe), decl=decl)
                orelse.append(nested)
                stack.append((nested, nested.body, True))
        elif head == "end":
            if len(stack) == 1:
                raise TemplateError("unexpected {{end}}")
            while stack.pop()[2]:
                pass
        else:
            decl, pipe = _declaration(tokens)
            out.append(_Node("action", pipe=_pipeline(pipe), decl=decl))
    if len(stack) != 1:
        raise TemplateError("unexpected EOF")
    return root


def _declaration(tokens: list[tuple[str, str]]) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    for i, (kind, _) in enumerate(tokens):
        if kind == "decl":
            names = tuple(v for k, v in tokens[:i] if k == "var")
            return names, tokens[i + 1 :]
    return (), tokens


def _pipeline(tokens: list[tuple[str, str]]) -> list[Any]:
    """A pipeline as a list of commands; a command is a list of operands."""
    commands: list[list[Any]] = [[]]
    stack = [commands]
    after_paren = False
    for kind, value in tokens:
        chained, after_paren = after_paren and kind == "field", kind == "punct" and value == ")"
        if chained:  # (pipeline).field
            stack[-1][-1][-1] = ("chain", (stack[-1][-1][-1], value))
        elif kind == "punct" and value == "|":
            stack[-1].append([])
        elif kind == "punct" and value == "(":
            inner: list[list[Any]] = [[]]
            stack[-1][-1].append(("pipe", inner))
            stack.append(inner)
        elif kind == "punct" and value == ")":
            if len(stack) == 1:
                raise TemplateError("unexpected right paren")
            stack.pop()
        elif kind == "punct":
            raise TemplateError(f"unexpected {value!r} in operand")
        else:
            stack[-1][-1].append((kind, value))
    if len(stack) != 1:
        raise TemplateError("unclosed left paren")
    if any(not c for c in commands):
        raise TemplateError("missing command")
    return commands


class _State:
    def __init__(self, data: Any) -> None:
        self.vars: list[dict[str, Any]] = [{"$": data}]

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.vars):
            if name in scope:
                return scope[name]
        raise TemplateError(f'undefined variable "{name}"')


def _field(value: Any, path: str) -> Any:
    for name in [p for p in path.split(".") if p]:
        if value is MISSING or value is None:
            return MISSING
        if not isinstance(value, dict):
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
        value = value.get(name, MISSING)
    return value


def _operand(token: tuple[str, Any], dot: Any, state: _State) -> Any:
    kind, value = token
    if kind == "field":
        return dot if value == "." else _field(dot, value)
    if kind == "var":
        name, _, rest = value.partition(".")
        return _field(state.lookup(name), rest)
    if kind == "str":
        return unquote(value[1:-1])
    if kind == "raw":
        return value[1:-1]
    if kind == "num":
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "pipe":
        return _run_pipe(value, dot, state)
    if kind == "chain":
        return _field(_operand(value[0], dot, state), value[1])
    if kind == "word":
        if value in ("true", "false"):
            return value == "true"
        if value == "nil":
            return None
        raise TemplateError(f'function "{value}" not defined')
    raise TemplateError(f"unexpected {value}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key)
        elif isinstance(item, list | str) and isinstance(key, int):
            if not 0 <= key < len(item):
                raise TemplateError(f"error calling index: index out of range: {key}")
            item = item[key]
        elif item is None or item is MISSING:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(item)}")
    return item


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(m: re.Match[str]) -> str:
        verb = m[2]
        if verb == "%":
            return "%"
        value = next(values, MISSING)
        if value is MISSING:
            return f"%!{verb}(MISSING)"
        if verb == "q":
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if verb == "d" and isinstance(value, int):
            return f"{value:{m[1]}d}"
        return f"{_text(value):{m[1].replace('-', '<')}}" if m[1] else _text(value)

    return re.sub(r"%([-0-9.]*)([a-zA-Z%])", one, fmt)


def _equal(a: Any, *others: Any) -> bool:
    try:
        return any(compare("==", a, b) for b in others)
    except ValueError as exc:
        raise TemplateError(f"error calling eq: {exc}") from None


def _cmp(op: str) -> Callable[..., bool]:
    def check(a: Any, b: Any) -> bool:
        try:
            return compare(op, a, b)
        except ValueError as exc:
            raise TemplateError(f"error calling {op}: {exc}") from None

    return check


FUNCS: dict[str, Callable[..., Any]] = {
    "index": _index,
    "len": lambda v: len(v),
    "print": lambda *a: "".join(_text(v) for v in a),
    "println": lambda *a: " ".join(_text(v) for v in a) + "\n",
    "printf": _printf,
    "eq": _equal,
    "ne": lambda a, b: not _equal(a, b),
    "lt": _cmp("lt"),
    "le": _cmp("le"),
    "gt": _cmp("gt"),
    "ge": _cmp("ge"),
    "not": lambda v: not truth(v),
    "exists": lambda item, *keys: _exists(item, keys),
    "base64decode": lambda v: base64.b64decode(str(v)).decode("utf-8", "replace"),
}


def _exists(item: Any, keys: tuple[Any, ...]) -> bool:
    for key in keys:
        if not isinstance(item, dict) or key not in item:
            return False
        item = item[key]
    return True


def _run_command(command: list[Any], dot: Any, state: _State, piped: Any) -> Any:
    head = command[0]
    args_tokens = command[1:]
    if head[0] == "word" and head[1] in ("and", "or"):
        values = [_operand(t, dot, state) for t in args_tokens]
        if piped is not MISSING:
            values.append(piped)
        result = values[0] if values else MISSING
        for value in values:
            result = value
            if truth(value) != (head[1] == "and"):
                break
        return result
    if head[0] == "word" and head[1] in FUNCS:
        args = [_operand(t, dot, state) for t in args_tokens]
        if piped is not MISSING:
            args.append(piped)
        try:
            return FUNCS[head[1]](*args)
        except TypeError as exc:
            raise TemplateError(f"wrong number of args for {head[1]}: {exc}") from None
    if head[0] == "word" and head[1] not in ("true", "false", "nil"):
        raise TemplateError(f'function "{head[1]}" not defined')
    if args_tokens or piped is not MISSING:
        raise TemplateError(f"can't give argument to non-function {head[1]}")
    return _operand(head, dot, state)


def _run_pipe(commands: list[Any], dot: Any, state: _State) -> Any:
    value: Any = MISSING
    for i, command in enumerate(commands):
        value = _run_command(command, dot, state, value if i else MISSING)
    return value


def _text(value: Any) -> str:
    return "<no value>" if value is MISSING else go_text(value)


def _execute(nodes: list[_Node], dot: Any, state: _State, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
            continue
        value = _run_pipe(node.pipe or [], dot, state)
        if node.kind == "action":
            if node.decl:
                state.vars[-1][node.decl[0]] = value
            else:
                out.append(_text(value))
        elif node.kind in ("if", "with"):
            state.vars.append({})
            if node.decl:
                state.vars[-1][node.decl[0]] = value
            if truth(value if value is not MISSING else None):
                _execute(node.body, value if node.kind == "with" else dot, state, out)
            else:
                _execute(node.orelse, dot, state, out)
            state.vars.pop()
        elif node.kind == "range":
            _range(node, value, dot, state, out)


def _range(node: _Node, value: Any, dot: Any, state: _State, out: list[str]) -> None:
    if isinstance(value, dict):
        pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        pairs = [(i, i) for i in range(value)]
    elif value is None or value is MISSING:
        pairs = []
    else:
        raise TemplateError(f"range can't iterate over {go_text(value)}")
    if not pairs:
        _execute(node.orelse, dot, state, out)
        return
    for key, item in pairs:
        scope: dict[str, Any] = {}
        if len(node.decl) == 1:
            scope[node.decl[0]] = item
        elif len(node.decl) == 2:
            scope[node.decl[0]], scope[node.decl[1]] = key, item
        state.vars.append(scope)
        _execute(node.body, item, state, out)
        state.vars.pop()


def render(template: str, data: Any) -> str:
    """The template's output for ``data``; ``TemplateError`` with Go's words when it fails."""
    nodes = _parse(template)
    out: list[str] = []
    _execute(nodes, data, _State(data), out)
    return "".join(out)
