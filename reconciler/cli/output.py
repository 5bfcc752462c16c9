"""kubectl's printers: tables, ages, and the name printer.

``kubectl get`` aligns columns with a tabwriter (min width 6 … padding 3);
``describe`` and ``rollout history`` use padding 2. Ages follow apimachinery's
``HumanDuration``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import yaml


def table(rows: Sequence[Sequence[str]], *, padding: int = 3) -> str:
    """Left-aligned columns separated by at least ``padding`` spaces (the last not padded)."""
    if not rows:
        return ""
    widths = [0] * max(len(r) for r in rows)
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in rows:
        cells = [
            cell if i == len(row) - 1 else cell.ljust(widths[i] + padding)
            for i, cell in enumerate(row)
        ]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


def human_duration(seconds: float) -> str:
    """apimachinery's ``HumanDuration``: ``45s``, ``2m30s``, ``5h``, ``3d4h``, ``2y``.

    >>> [human_duration(s) for s in (5, 150, 600, 3 * 3600 + 60, 50 * 3600, 9 * 86400)]
    ['5s', '2m30s', '10m', '3h1m', '2d2h', '9d']
    """
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = (s % 3600) // 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 8 * 24:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def age(since: float | None, now: float) -> str:
    return "<unknown>" if not since else human_duration(now - since)


def dump(objects: Iterable[dict[str, Any]], fmt: str, *, out: TextIO | None = None) -> None:
    """``-o json|yaml`` of one object, or of a ``List`` when several."""
    out = out or sys.stdout
    items = list(objects)
    doc: Any = items[0] if len(items) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
    if fmt == "json":
        out.write(json.dumps(doc, indent=4, sort_keys=False) + "\n")
    else:
        out.write(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
