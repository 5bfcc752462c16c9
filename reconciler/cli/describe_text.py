"""The text of kubectl's describe pages: Go's ``tabwriter``, times, labels and the Events table.

kubectl writes each describe page through one Go ``text/tabwriter`` pass (minwidth 0, padding
2) over tab-separated lines, where consecutive lines that share a column are aligned together
(``tabwrite``), and flushes before the Events table so it is aligned on its own (``render``).
Shared by every page (``describe_workloads``, ``describe_pod``, ``describe_service``) and by
``rollout_tree``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.cli import output
from reconciler.errors import NotFoundError
from reconciler.store import EventRow

__all__ = [
    "annotations_text",
    "events_text",
    "kubectl_not_found",
    "labels_text",
    "render",
    "rfc1123z",
    "selector_text",
    "tabwrite",
]


def kubectl_not_found(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Print ``Error from server (NotFound): ...`` verbatim (exit 1), as kubectl does.

    The dispatcher prefixes ``error: `` to messages that do not start with it; kubectl's
    NotFound line has no such prefix.
    """

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except NotFoundError as exc:
            message = str(exc)
            if not message.startswith("Error from server"):
                raise
            print(message, file=sys.stderr)
            return 1

    return wrapped


# -- Go's text/tabwriter -------------------------------------------------------------------


def tabwrite(text: str, *, padding: int = 2, minwidth: int = 0) -> str:
    """Align ``text`` the way Go's ``text/tabwriter`` does (left-aligned, space padding).

    A cell is text ended by a tab; a column block is a run of consecutive lines that all have
    a cell in that column, and each block gets its own width (widest cell + ``padding``). The
    last cell of a line is never padded.

    >>> text = "Name:\\tweb\\nReplicas:\\t3\\nPod Template:\\n  Labels:\\tapp=web\\n"
    >>> print(tabwrite(text), end="")
    Name:      web
    Replicas:  3
    Pod Template:
      Labels:  app=web
    """
    ends_with_newline = text.endswith("\n")
    lines = [line.split("\t") for line in text.split("\n")]
    if ends_with_newline:
        lines.pop()
    out: list[str] = []

    def write_lines(start: int, stop: int, widths: list[int]) -> None:
        for cells in lines[start:stop]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell.ljust(widths[j]) if j < len(widths) else cell)
            out.append("".join(parts))

    def format_block(start: int, stop: int, widths: list[int]) -> None:
        column = len(widths)
        line0 = start
        this = start
        while this < stop:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this, widths)
            line0 = this
            width = minwidth
            while this < stop and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            format_block(line0, this, [*widths, width])
            line0 = this
        write_lines(line0, stop, widths)

    format_block(0, len(lines), [])
    return "\n".join(out) + ("\n" if ends_with_newline else "")


def rfc1123z(ts: float | None) -> str:
    """Go's ``time.RFC1123Z`` in local time: ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    if not ts:
        return "<unknown>"
    return datetime.fromtimestamp(ts).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


# -- shared pieces ---------------------------------------------------------------------------


def labels_text(title: str, labels: Mapping[str, Any] | None, *, indent: str = "") -> str:
    """kubectl's printLabelsMultiline: ``k=v`` sorted, one per line."""
    out = f"{indent}{title}:\t"
    if not labels:
        return out + "<none>\n"
    keys = sorted(labels)
    return out + "".join(
        (f"{indent}\t" if i else "") + f"{key}={labels[key]}\n" for i, key in enumerate(keys)
    )


def annotations_text(annotations: Mapping[str, Any] | None) -> str:
    """kubectl's printAnnotationsMultiline: ``key: value`` sorted, one per line."""
    out = "Annotations:\t"
    if not annotations:
        return out + "<none>\n"
    keys = sorted(annotations)
    return out + "".join(
        ("\t" if i else "") + f"{key}: {annotations[key]}\n" for i, key in enumerate(keys)
    )


def selector_text(selector: Mapping[str, Any] | None) -> str:
    labels = (selector or {}).get("matchLabels", selector) or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def events_text(events: Sequence[EventRow], now: float) -> str:
    """kubectl's DescribeEvents; repeated events show ``<last> (xN over <first>)``."""
    if not events:
        return "Events:\t<none>\n"
    out = "\x00"  # marks a flush: the events table is aligned on its own
    out += "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n"
    for event in sorted(events, key=lambda e: (e.first_seen, e.last_seen)):
        first = output.human_duration(now - event.first_seen)
        if event.count > 1:
            last = output.human_duration(now - event.last_seen)
            age = f"{last} (x{event.count} over {first})"
        else:
            age = first
        out += f"  {event.type}\t{event.reason}\t{age}\t{event.source}\t{event.message.strip()}\n"
    return out


def render(text: str) -> str:
    """Tab-align each flushed part separately (kubectl flushes before an Events table)."""
    return "".join(tabwrite(part) for part in text.split("\x00"))
