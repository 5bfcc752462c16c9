"""``get``'s printers: tables and kubectl's ``-o`` formats over the listed items.

Human tables (one block per resource type, a blank line between; ``TYPE/NAME`` in the NAME
column when several types are shown; ``NAMESPACE`` first with ``-A``; ``LABELS`` last with
``--show-labels``) and the generic printers, which see the objects exactly as ``-o json`` does:
a single object when one ``TYPE/NAME`` was asked for, else a ``v1`` ``List``. ``--sort-by``
orders items by a JSONPath value with kubectl's natural order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from reconciler import apiobjects as api
from reconciler.cli import gotemplate, jsonpath
from reconciler.cli.govalues import go_text, natural_key
from reconciler.cli.listing import Item
from reconciler.errors import ReconcilerError

__all__ = ["OutputFormat", "parse_output", "print_generic", "sort_items", "table_blocks"]

FORMATS = (
    "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
    "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
)


@dataclass(frozen=True, slots=True)
class OutputFormat:
    kind: str  # "" (table) wide name json yaml jsonpath jsonpath-as-json custom-columns go-template
    template: str = ""

    @property
    def generic(self) -> bool:
        return self.kind not in ("", "wide", "name", "custom-columns")


def _read(path: str, flag: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReconcilerError(f"error reading --{flag} {path}: {exc.strerror}") from None


def parse_output(value: str | None, template: str | None = None) -> OutputFormat:
    """``-o`` as kubectl reads it (``jsonpath=…``, ``custom-columns-file=…``, ...)."""
    if not value:
        return OutputFormat("")
    name, eq, arg = value.partition("=")
    if not eq and template:
        arg = template
    if name in ("wide", "name", "json", "yaml") and not eq:
        return OutputFormat(name)
    if name in ("jsonpath", "jsonpath-as-json", "custom-columns", "go-template", "template"):
        if not arg:
            raise ReconcilerError(f"error: {name} template format specified but no template given")
        return OutputFormat("go-template" if name == "template" else name, arg)
    if name in ("jsonpath-file", "custom-columns-file", "go-template-file", "templatefile"):
        if not arg:
            raise ReconcilerError(f"error: {name} template format specified but no template given")
        base = {"templatefile": "go-template-file"}.get(name, name).removesuffix("-file")
        return OutputFormat(base, _read(arg, name))
    raise ReconcilerError(
        f'error: unable to match a printer suitable for the output format "{value}", '
        f"allowed formats are: {FORMATS}"
    )


def sort_items(items: list[Item], expression: str) -> list[Item]:
    """``--sort-by``: by the first value the path gives; items without it sort first."""
    try:
        template = jsonpath.parse(jsonpath.relaxed(expression))
    except jsonpath.JSONPathError as exc:
        raise ReconcilerError(f"error: {exc}") from None
    keyed = []
    for item in items:
        try:
            found = [v for r in template.results(item.obj) for v in r]
        except jsonpath.JSONPathError as exc:
            raise ReconcilerError(f"error: {exc}") from None
        keyed.append((found[0] if found else None, item))
    if items and all(k is None for k, _ in keyed):
        raise ReconcilerError(
            f'error: couldn\'t find any field with path "{jsonpath.relaxed(expression)}" '
            "in the list of objects"
        )

    def key(pair: tuple[Any, Item]) -> tuple[int, Any]:
        value = pair[0]
        if value is None:
            return (0, ())
        if isinstance(value, bool):
            return (1, int(value))
        if isinstance(value, int | float):
            return (2, value)
        return (3, natural_key(value if isinstance(value, str) else json.dumps(value)))

    return [item for _, item in sorted(keyed, key=key)]


def _labels_cell(item: Item) -> str:
    labels = item.labels
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) or "<none>"


def table_rows(
    items: Sequence[Item],
    *,
    wide: bool,
    prefixed: bool,
    all_namespaces: bool,
    show_labels: bool,
    headers: bool,
) -> list[list[str]]:
    """One resource type's block: header (unless ``--no-headers``) and a row per item."""
    resource = items[0].resource
    namespaced = all_namespaces and resource.namespaced
    rows: list[list[str]] = []
    if headers:
        head = [*resource.headers, *(resource.wide_headers if wide else ())]
        rows.append(
            (["NAMESPACE"] if namespaced else []) + head + (["LABELS"] if show_labels else [])
        )
    for item in items:
        cells = [*item.row, *(item.wide if wide else ())]
        if prefixed:
            cells[0] = item.display
        rows.append(
            ([item.namespace] if namespaced else [])
            + cells
            + ([_labels_cell(item)] if show_labels else [])
        )
    return rows


def table_blocks(items: Sequence[Item]) -> list[list[Item]]:
    """Items grouped by resource type, in the order the types were asked for."""
    blocks: list[list[Item]] = []
    for item in items:
        if blocks and blocks[-1][0].resource == item.resource:
            blocks[-1].append(item)
        else:
            blocks.append([item])
    return blocks


def custom_columns(spec: str) -> list[tuple[str, jsonpath.Template]]:
    """``NAME:.metadata.name,IMAGE:.spec.containers[*].image`` (or a file's two lines)."""
    lines = [line for line in spec.splitlines() if line.strip()]
    if len(lines) >= 2 and ":" not in lines[0]:  # custom-columns-file: headers, then paths
        pairs = list(zip(lines[0].split(), lines[1].split(), strict=False))
        if len(lines[0].split()) != len(lines[1].split()):
            raise ReconcilerError(
                f"error: expected {len(lines[0].split())} columns, got {len(lines[1].split())}"
            )
    else:
        pairs = []
        for part in spec.split(","):
            header, colon, path = part.partition(":")
            if not colon:
                raise ReconcilerError(
                    f"error: unexpected custom-columns spec: {part}, "
                    "expected <header>:<json-path-expr>"
                )
            pairs.append((header, path))
    try:
        return [(h, jsonpath.parse(jsonpath.relaxed(p))) for h, p in pairs]
    except jsonpath.JSONPathError as exc:
        raise ReconcilerError(f"error: {exc}") from None


def custom_column_rows(items: Iterable[Item], spec: str, *, headers: bool) -> list[list[str]]:
    columns = custom_columns(spec)
    rows = [[h for h, _ in columns]] if headers else []
    for item in items:
        row = []
        for _, template in columns:
            try:
                found = template.results(item.obj)
            except jsonpath.JSONPathError as exc:
                raise ReconcilerError(f"error: {exc}") from None
            values = [go_text(v) for r in found for v in r]
            row.append(",".join(values) if found and found[0] else "<none>")
        rows.append(row)
    return rows


def document(items: Sequence[Item], *, single: bool) -> dict[str, Any]:
    """What the generic printers see: the object, or a ``List`` of them."""
    if single and len(items) == 1:
        return items[0].obj
    return api.as_list(i.obj for i in items)


def print_generic(doc: dict[str, Any], fmt: OutputFormat, out: TextIO) -> None:
    if fmt.kind == "json":
        out.write(go_json(doc) + "\n")
    elif fmt.kind == "yaml":
        out.write(
            yaml.dump(
                doc,
                Dumper=_GoYamlDumper,
                sort_keys=True,
                default_flow_style=False,
                allow_unicode=True,
            )
        )
    elif fmt.kind in ("jsonpath", "jsonpath-as-json"):
        out.write(_jsonpath(doc, fmt))
    elif fmt.kind == "go-template":
        try:
            out.write(gotemplate.render(fmt.template, doc))
        except gotemplate.TemplateError as exc:
            raise ReconcilerError(
                f"error: error executing template {fmt.template!r}: template: output: {exc}"
            ) from None


class _GoYamlDumper(yaml.SafeDumper):
    """sigs.k8s.io/yaml's quoting: a string that needs quotes gets double ones
    (``creationTimestamp: "2026-12-01T22:53:00Z"``, ``resourceVersion: "550088"``)."""

    def choose_scalar_style(self) -> str:
        style: str = super().choose_scalar_style()
        return '"' if style == "'" else style


def go_json(doc: Any) -> str:
    """``json.MarshalIndent(obj, "", "    ")``: Go escapes <, > and & (and U+2028/9)."""
    text = json.dumps(jsonpath.go_numbers(doc), indent=4, ensure_ascii=False)
    for ch, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _jsonpath(doc: dict[str, Any], fmt: OutputFormat) -> str:
    try:
        template = jsonpath.parse(fmt.template)
    except jsonpath.JSONPathError as exc:
        raise ReconcilerError(f"error: error parsing jsonpath {fmt.template}, {exc}") from None
    try:
        if fmt.kind == "jsonpath-as-json":
            values = [v for r in template.results(doc) for v in r]
            return go_json(values) + "\n"
        return template.render(doc)
    except jsonpath.JSONPathError as exc:
        raise ReconcilerError(
            f'error: error executing jsonpath "{fmt.template}": Error executing template: '
            f"{exc}. Printing more information for debugging the template:\n"
            f"\ttemplate was:\n\t\t{fmt.template}\n"
        ) from None
