"""Durations and int-or-percent values, parsed once, the way Kubernetes and Argo read them.

>>> parse_duration("5m"), parse_duration(10), parse_duration("1.5s")
(300.0, 10.0, 1.5)
>>> scaled_value("25%", total=10, round_up=True), scaled_value("25%", total=10, round_up=False)
(3, 2)
"""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_PERCENT = re.compile(r"^[0-9]+%$")


def parse_duration(value: object) -> float:
    """Seconds as a number, or ``"30s"``, ``"5m"``, ``"1h"`` (a bare number means seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            return float(match["num"]) * _UNITS[match["unit"]]
    raise ValueError(f'invalid duration {value!r}: use seconds or a string like "30s", "5m", "1h"')


def is_percent(value: object) -> bool:
    return isinstance(value, str) and bool(_PERCENT.match(value))


def scaled_value(value: int | str, *, total: int, round_up: bool) -> int:
    """Resolve an IntOrString against ``total`` (intstr.GetScaledValueFromIntOrPercent).

    ``"25%"`` of 10 is 3 rounded up (surge) and 2 rounded down (unavailable).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if is_percent(value):
        assert isinstance(value, str)
        pct = int(value[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise ValueError(f"invalid value for IntOrString: {value!r}")
