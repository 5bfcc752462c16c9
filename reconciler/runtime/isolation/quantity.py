"""Kubernetes resource quantities (``50Mi``, ``500m``, ``1.5``, ``1e3``) as exact numbers.

``limits.memory`` and ``requests.cpu`` are ``resource.Quantity`` strings; the cgroup files want
bytes and microseconds, and the scheduler compares sums, so both are parsed here once, exactly
(``Fraction``), the way apimachinery reads them: binary suffixes ``Ki Mi Gi Ti Pi Ei``, decimal
``n u m k M G T P E``, or a decimal exponent.

>>> memory_bytes("50Mi"), memory_bytes("1G"), memory_bytes(128), memory_bytes("1e3")
(52428800, 1000000000, 128, 1000)
>>> cpu_millis("500m"), cpu_millis("1.5"), cpu_millis(2), cpu_millis("100u")
(500, 1500, 2000, 1)
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """Not a Kubernetes quantity; the message says what one looks like."""


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity (``"50Mi"`` -> 52428800)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QuantityError(f"quantities must match the regular expression {_QUANTITY.pattern!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise QuantityError(f"invalid quantity {value!r}")
        return Fraction(value)
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise QuantityError(
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (for example 64Mi, 500m, 1)"
        )
    number = Fraction(match["number"])
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * Fraction(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Fraction(10) ** _DECIMAL[suffix]
    if match["exponent"]:
        exponent = int(match["exponent"])
        if abs(exponent) > 30:  # past int64 either way; never compute 10**999999999
            raise QuantityError(f"invalid quantity {value!r}: the exponent is out of range")
        return number * Fraction(10) ** exponent
    return number


def memory_bytes(value: object) -> int:
    """Bytes, rounded up as the API server rounds a fractional byte count."""
    return math.ceil(parse_quantity(value))


def cpu_millis(value: object) -> int:
    """Millicores, rounded up (``100u`` is 1m: the API's smallest cpu step)."""
    return math.ceil(parse_quantity(value) * 1000)


def format_memory(value: int) -> str:
    """A byte count in the largest binary unit that divides it (as kubectl prints limits).

    >>> format_memory(52428800), format_memory(1500), format_memory(2 * 1024**3)
    ('50Mi', '1500', '2Gi')
    """
    for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
        unit = 1024**power
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


__all__ = ["QuantityError", "cpu_millis", "format_memory", "memory_bytes", "parse_quantity"]
