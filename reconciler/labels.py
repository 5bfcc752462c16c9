"""Label selectors: one parser and one matcher for the CLI, Services, the engine and the rules.

Kubernetes has two spellings of one idea: the string grammar of ``kubectl -l`` (apimachinery
``pkg/labels/selector.go``: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``,
``!a``, ``a>3``, ``a<3``, comma = AND) and ``metav1.LabelSelector`` (``matchLabels`` +
``matchExpressions`` with ``In``/``NotIn``/``Exists``/``DoesNotExist``). Both become one
``LabelSelector`` of ``Requirement`` values, so ``kubectl get -l 'app!=web'`` and a
Deployment's ``matchExpressions`` can never disagree about which pods they pick. Errors carry
kubectl's words (``unable to parse requirement: found 'x', expected: '('``).

>>> parse("app in (web,api),!canary").matches({"app": "web"})
True
>>> parse("app!=web").matches({"app": "web"})
False
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "everything",
    "from_dict",
    "from_map",
    "parse",
]


class SelectorError(ValueError):
    """A selector string or object that kubectl/the API server would refuse."""


class Operator(enum.StrEnum):
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY = "in, notin, =, ==, !=, gt, lt"  # selector.go binaryOperators, in its order

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _check_key(key: str) -> None:
    """apimachinery ``validation.IsQualifiedName``: ``[prefix/]name``."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        raise SelectorError(f'invalid label key "{key}": prefix part must be non-empty')
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        raise SelectorError(
            f'invalid label key "{key}": prefix part a lowercase RFC 1123 subdomain must '
            "consist of lower case alphanumeric characters, '-' or '.', and must start and "
            "end with an alphanumeric character"
        )
    if not name or len(name) > 63 or not _NAME.match(name):
        raise SelectorError(
            f'invalid label key "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )


def _check_value(key: str, value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(
            f'invalid label value: "{value}": at key: "{key}": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
            "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term: ``key op values`` (values sorted, as ``NewRequirement`` keeps them)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def make(cls, key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
        """``labels.NewRequirement``: validates the key, the values and their count."""
        _check_key(key)
        vals = tuple(sorted(set(values)))
        if operator in (Operator.IN, Operator.NOT_IN) and not vals:
            raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)
        if operator in exact and len(vals) != 1:
            raise SelectorError("exact-match compatibility requires one single value")
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
            raise SelectorError("values set must be empty for exists and does not exist")
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(vals) != 1:
                raise SelectorError("for 'Gt', 'Lt' operators, exactly one value is required")
            if not re.fullmatch(r"[-+]?\d+", vals[0]):
                raise SelectorError("for 'Gt', 'Lt' operators, the value must be an integer")
        for value in vals:
            _check_value(key, value)
        return cls(key, operator, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        value = labels.get(self.key)
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            return present and value in self.values
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return not present or value not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        try:  # Gt / Lt compare integers; a label that is not one never matches
            have, want = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        if op is Operator.GREATER_THAN:
            return f"{self.key}>{self.values[0]}"
        if op is Operator.LESS_THAN:
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """Requirements that must all hold (sorted by key, as ``labels.Parse`` sorts them)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a Service's empty selector: matches no pod

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> LabelSelector:
    return LabelSelector()


def from_map(labels: Mapping[str, Any] | None, *, empty_matches: bool = True) -> LabelSelector:
    """An equality selector (a Service's ``spec.selector``, ``matchLabels``).

    A Service with no selector selects no pod: ``empty_matches=False``."""
    if not labels:
        return LabelSelector(nothing=not empty_matches)
    reqs = [Requirement(str(k), Operator.EQUALS, (str(v),)) for k, v in labels.items()]
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


_EXPRESSION_OPS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: matchLabels AND every matchExpression.

    Validation of the object (operators, values) is the manifest rules' job; this conversion
    trusts its input and is lenient with what the rules would already have reported."""
    if not selector:
        return LabelSelector()
    reqs = [
        Requirement(str(k), Operator.EQUALS, (str(v),))
        for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(str(expression.get("operator")))
        if op is None:
            raise SelectorError(
                f'"{expression.get("operator")}" is not a valid label selector operator'
            )
        values = (
            ()
            if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST)
            else expression.get("values") or ()
        )
        reqs.append(Requirement(str(expression.get("key")), op, tuple(sorted(map(str, values)))))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# --- the string grammar (selector.go's Lexer and Parser) ---------------------------------------

_SPECIAL = "=!(),<>"
_SYMBOLS = frozenset(("=", "==", "!", "!=", "(", ")", ",", ">", "<"))
_EOS, _ID, _ERR = "EOS", "ID", "ERR"


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal): ``ID`` (identifiers and the keywords in/notin), a symbol."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            out.append((_EOS, ""))
            return out
        if text[i] in _SPECIAL:
            buffer, last = "", ""
            while i < n and text[i] in _SPECIAL:
                if buffer + text[i] in _SYMBOLS:
                    buffer += text[i]
                    last = buffer
                    i += 1
                elif last:
                    break
                else:
                    buffer += text[i]
                    i += 1
            if not last:
                out.append((_ERR, f"error expected: keyword found '{buffer}'"))
            else:
                out.append((last, last))
            continue
        start = i
        while i < n and text[i] not in _SPECIAL and text[i] not in " \t\r\n":
            i += 1
        word = text[start:i]
        out.append((word if word in ("in", "notin") else _ID, word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, *, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.pos]
        if values and kind in ("in", "notin"):
            kind = _ID  # in the Values context, the keywords are plain identifiers
        return kind, literal

    def take(self, *, values: bool = True) -> tuple[str, str]:
        token = self.peek(values=values)
        if self.pos < len(self.tokens) - 1:
            self.pos += 1
        return token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, literal = self.peek()
            if kind in (_ID, "!"):
                try:
                    reqs.append(self.requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                kind, literal = self.take()
                if kind == _EOS:
                    return reqs
                if kind == ",":
                    kind2, literal2 = self.peek()
                    if kind2 not in (_ID, "!"):
                        raise SelectorError(f"found '{literal2}', expected: identifier after ','")
                    continue
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            if kind == _EOS:
                return reqs
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        kind, literal = self.take()
        negated = kind == "!"
        if negated:
            kind, literal = self.take()
        if kind != _ID:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        _check_key(key)
        if negated:  # "!key=v": the requirement ends at the key; the loop rejects the "="
            return Requirement.make(key, Operator.DOES_NOT_EXIST)
        if self.peek()[0] in (_EOS, ","):
            return Requirement.make(key, Operator.EXISTS)
        kind, literal = self.take(values=False)
        operator = {
            "in": Operator.IN,
            "notin": Operator.NOT_IN,
            "=": Operator.EQUALS,
            "==": Operator.DOUBLE_EQUALS,
            "!=": Operator.NOT_EQUALS,
            ">": Operator.GREATER_THAN,
            "<": Operator.LESS_THAN,
        }.get(kind)
        if operator is None:
            raise SelectorError(f"found '{literal}', expected: {_BINARY}")
        if operator in (Operator.IN, Operator.NOT_IN):
            return Requirement.make(key, operator, self.values())
        return Requirement.make(key, operator, self.exact_value())

    def values(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self.peek()
        if kind == ")":
            self.take()
            return {""}
        if kind not in (_ID, ","):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        found = self.identifiers()
        kind, _ = self.take()
        if kind != ")":
            raise SelectorError(f"found '{literal}', expected: ')'")
        return found

    def identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            kind, literal = self.take()
            if kind == _ID:
                found.add(literal)
                kind2, literal2 = self.peek()
                if kind2 == ",":
                    continue
                if kind2 == ")":
                    return found
                raise SelectorError(f"found '{literal2}', expected: ',' or ')'")
            if kind == ",":
                if not found:
                    found.add("")  # "(,x)"
                kind2, _ = self.peek()
                if kind2 == ")":
                    found.add("")  # "(x,)"
                    return found
                if kind2 == ",":
                    self.take()
                    found.add("")  # "(x,,y)"
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> tuple[str, ...]:
        kind, _ = self.peek()
        if kind in (_EOS, ","):
            return ("",)
        kind, literal = self.take()
        if kind == _ID:
            return (literal,)
        raise SelectorError(f"found '{literal}', expected: identifier")


def parse(text: str | None) -> LabelSelector:
    """``labels.Parse``: the selector a ``-l`` string means (empty: everything)."""
    if not text or not text.strip():
        return LabelSelector()
    reqs = _Parser(text).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))
