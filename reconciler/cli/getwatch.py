"""``get``'s printer over time: the first listing, then ``-w``'s one line per change.

kubectl's watch prints a changed object's row under the table it printed first, with the column
widths it remembered (the liggitt/tabwriter fork's ``RememberWidths``), so the columns stay put;
a deleted object is printed a last time. Changes are noticed through the store's change mark,
so an idle watch costs one cheap query every half second.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.cli.listing import Item
from reconciler.cli.printers import (
    OutputFormat,
    custom_column_rows,
    document,
    print_generic,
    table_blocks,
    table_rows,
)
from reconciler.store import Store

__all__ = ["GetPrinter", "watch"]

Row = list[str]


class GetPrinter:
    """Prints the first listing, then (``-w``) each change, remembering column widths."""

    def __init__(
        self, args: argparse.Namespace, fmt: OutputFormat, *, single: bool, several: bool
    ) -> None:
        self.args, self.fmt, self.single, self.several = args, fmt, single, several
        self.widths: dict[str, list[int]] = {}

    def rows(self, items: Sequence[Item], *, headers: bool) -> list[Row]:
        if self.fmt.kind == "custom-columns":
            return custom_column_rows(items, self.fmt.template, headers=headers)
        rows = table_rows(
            items,
            wide=self.fmt.kind == "wide",
            prefixed=self.several,
            all_namespaces=self.args.all_namespaces,
            show_labels=self.args.show_labels,
            headers=headers,
        )
        keys = [k for arg in self.args.label_columns for k in arg.split(",") if k]
        if keys:
            start = 1 if headers else 0
            if headers:
                rows[0] += [k.rsplit("/", 1)[-1].upper() for k in keys]
            for row, item in zip(rows[start:], items, strict=True):
                row += [item.labels.get(k, "") for k in keys]
        return rows

    def write_rows(self, key: str, rows: Sequence[Row]) -> None:
        widths = self.widths.setdefault(key, [])
        for row in rows:
            for i, cell in enumerate(row):
                if i == len(widths):
                    widths.append(0)
                widths[i] = max(widths[i], len(cell))
        lines = []
        for row in rows:
            cells = [
                c if i == len(row) - 1 else c.ljust(max(widths[i] + 3, 6))
                for i, c in enumerate(row)
            ]
            lines.append("".join(cells))
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")

    def first(self, items: Sequence[Item]) -> None:
        kind = self.fmt.kind
        if kind == "name":
            for item in items:
                print(item.display)
        elif self.fmt.generic and self.args.watch:  # a watch prints objects, never a List
            for item in items:
                print_generic(item.obj, self.fmt, sys.stdout)
        elif self.fmt.generic:
            print_generic(document(items, single=self.single), self.fmt, sys.stdout)
        elif kind == "custom-columns":  # its header even for no items, as kubectl's printer
            self.write_rows("", self.rows(items, headers=not self.args.no_headers))
        else:
            for n, block in enumerate(table_blocks(items)):
                if n:
                    sys.stdout.write("\n")
                headers = not self.args.no_headers
                self.write_rows(block[0].resource.plural, self.rows(block, headers=headers))
        sys.stdout.flush()

    def change(self, item: Item) -> None:
        """One changed object, as ``kubectl get -w`` prints a watch event."""
        kind = self.fmt.kind
        if kind == "name":
            print(item.display)
        elif self.fmt.generic:
            print_generic(item.obj, self.fmt, sys.stdout)
        else:
            key = "" if kind == "custom-columns" else item.resource.plural
            self.write_rows(key, self.rows([item], headers=False))
        sys.stdout.flush()


def watch(
    store: Store,
    listing: Callable[[], list[Item]],
    printer: GetPrinter,
    items: list[Item],
    *,
    mark: tuple[int, int],
) -> int:
    """Print an object again whenever it changes, and a last time when it is gone (kubectl's
    DELETED event shows the object's last state), until interrupted. ``mark`` is the store's
    change mark taken before ``items`` were read, so a change made meanwhile is not missed."""

    def key(item: Item) -> tuple[str, str, str]:
        return (item.resource.plural, item.namespace, item.name)

    def seen(item: Item) -> tuple[Any, ...]:  # without AGE (it changes every second)
        return (*item.row[:-1], *item.wide)

    last = {key(i): (seen(i), i) for i in items}
    try:
        while True:
            time.sleep(0.5)
            current = store.change_mark()
            if current == mark:
                continue
            mark = current
            now = listing()
            present = {key(i) for i in now}
            for item in now:
                previous = last.get(key(item))
                if previous is None or previous[0] != seen(item):
                    printer.change(item)
                last[key(item)] = (seen(item), item)
            for gone in [k for k in last if k not in present]:
                printer.change(last.pop(gone)[1])
    except KeyboardInterrupt:
        return 0
