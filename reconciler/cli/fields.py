"""``--field-selector``: apimachinery's field grammar and the API server's field labels.

``metadata.name=web,status.phase!=Running``: terms joined by commas (``\\,`` escapes one), each
``field=value``, ``field==value`` or ``field!=value``. Only the fields the API server indexes
for a type may be used (pods: ``spec.nodeName``, ``status.phase``, ``status.podIP``, …; every
type: ``metadata.name`` and ``metadata.namespace``); any other is refused with the server's
``field label not supported``, as kubectl shows it.

>>> [str(t) for t in parse("status.phase!=Running,metadata.name=web").terms]
['metadata.name=web', 'status.phase!=Running']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldSelector", "FieldSelectorError", "FieldTerm", "parse"]

_OPERATORS = ("!=", "==", "=")  # apimachinery's termOperators, tried in this order


class FieldSelectorError(ValueError):
    """A field selector the API server refuses (its text is the server's message)."""


@dataclass(frozen=True, slots=True)
class FieldTerm:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{self.value}"

    def matches(self, obj: Mapping[str, Any]) -> bool:
        have = field_value(obj, self.field)
        return have != self.value if self.operator == "!=" else have == self.value


@dataclass(frozen=True, slots=True)
class FieldSelector:
    text: str = ""
    terms: tuple[FieldTerm, ...] = ()

    def check(self, supported: frozenset[str]) -> None:
        for term in self.terms:
            if term.field not in supported:
                raise FieldSelectorError(f"field label not supported: {term.field}")

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(t.matches(obj) for t in self.terms)


def _split_terms(text: str) -> list[str]:
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _unescape(value: str) -> str:
    out, escaped = "", False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: '{value}'")
            out += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise FieldSelectorError(f"invalid field selector: '{value}'")
        else:
            out += ch
    return out


def parse(text: str | None) -> FieldSelector:
    """``fields.ParseSelector``: terms sorted, as the server sorts them."""
    if not text:
        return FieldSelector()
    terms = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        for i in range(len(part)):
            op = next((o for o in _OPERATORS if part.startswith(o, i)), None)
            if op is not None:
                lhs, rhs = part[:i], part[i + len(op) :]
                break
        else:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        terms.append(FieldTerm(lhs, op, _unescape(rhs)))
    return FieldSelector(text, tuple(terms))


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The API server's value of a field label: missing is "", booleans lower case."""
    value: Any = obj
    if path == "status.podIPs":
        return ",".join(i.get("ip", "") for i in (obj.get("status") or {}).get("podIPs") or [])
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return "false" if path == "spec.hostNetwork" else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
