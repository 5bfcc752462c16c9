"""Go's ways with values, for the printers that kubectl builds on Go libraries.

JSONPath, custom-columns and go-template output are what Go's ``fmt`` prints for decoded JSON
(``map[a:1 b:x]``, ``[x y]``, ``<nil>``, ``1e+06`` for a float) and what Go's template
comparisons accept (a string never equals a number: an error, not ``false``). kubectl sorts
``--sort-by`` strings with a natural order (``web-2`` before ``web-10``).

>>> go_text({"b": [1, "x"], "a": None})
'map[a:<nil> b:[1 x]]'
>>> go_text(1000000.0), go_text(0.5), go_text(True)
('1e+06', '0.5', 'true')
>>> sorted(["web-10", "web-2"], key=natural_key)
['web-2', 'web-10']
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["compare", "go_float", "go_text", "natural_key", "truth", "unquote"]


def go_float(value: float) -> str:
    """``fmt.Print`` of a float64 (``%v`` = ``strconv`` ``'g'``, shortest digits): ``%e`` form
    when the exponent is < -4 or >= 6 (``strconv`` uses precision 6 for that choice)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp = len(text) + exponent - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exponent >= 0:
        return prefix + text + "0" * exponent
    point = len(text) + exponent
    if point <= 0:
        return prefix + "0." + "0" * -point + text
    return prefix + text[:point] + "." + text[point:]


def go_text(value: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "invalid"


def compare(op: str, left: Any, right: Any) -> bool:
    """text/template's ``eq``/``ne``/``lt``/``le``/``gt``/``ge`` on two basic values."""
    kl, kr = _kind(left), _kind(right)
    if "invalid" in (kl, kr):
        raise ValueError("invalid type for comparison")
    if kl != kr:
        raise ValueError("incompatible types for comparison")
    if op in ("==", "eq"):
        return bool(left == right)
    if op in ("!=", "ne"):
        return bool(left != right)
    if kl == "bool":
        raise ValueError("invalid type for comparison")
    if op in ("<", "lt"):
        return bool(left < right)
    if op in ("<=", "le"):
        return bool(left <= right)
    if op in (">", "gt"):
        return bool(left > right)
    if op in (">=", "ge"):
        return bool(left >= right)
    raise ValueError(f"unrecognized filter operator {op}")


def truth(value: Any) -> bool:
    """text/template's truth: false, 0, "", nil and empty collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float | str | list | dict | tuple):
        return bool(value)
    return True


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a"}
_ESCAPES |= {"b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def unquote(body: str) -> str:
    """Go's string-literal escapes (``strconv.UnquoteChar``): ``\\n``, ``\\t``, ``\\xNN``, ..."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("invalid syntax")
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


_CHUNK = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """``sortorder.NaturalLess``: digit runs compare as numbers, the rest as text."""
    parts = _CHUNK.split(text)
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p)
