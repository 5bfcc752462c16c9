"""``reconciler explain TYPE[.field.path] [--recursive]``: a manifest's fields, from our schemas.

kubectl explains from the API server's OpenAPI; here the API is the JSON schemas the folder is
validated against (``reconciler/schemas/``), so what ``explain`` lists is exactly what
``validate`` accepts, the BlueGreen/Canary extensions included. The layout is kubectl's
(``kubectl explain --output=plaintext-openapiv2``)::

    KIND:     Deployment
    VERSION:  apps/v1

    RESOURCE: strategy <Object>

    DESCRIPTION:
         <the field's description>

    FIELDS:
       type	<string>
         One of: RollingUpdate, Recreate, BlueGreen, Canary.

       replicas	<integer> -required-
         ...

Types are kubectl's words (``<string>``, ``<integer>``, ``<boolean>``, ``<Object>``,
``<[]Object>``, ``<[]string>``, ``<map[string]string>``; an int-or-string is ``<string>``).
Where a schema field has no description, its constraints are said instead (``One of: ...``,
``Minimum: 0``). Fields Kubernetes knows and the local runtime accepts but does not use are
listed as ``<ignored>`` with the reason. ``--recursive`` prints the field tree, names and types
only, three spaces deeper per level.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

from reconciler.cli.explain_docs import FIELD_DOCS, KIND_DOCS
from reconciler.errors import ReconcilerError, UsageError
from reconciler.manifests.schema import SCHEMA_KINDS, UNSUPPORTED, load_schema
from reconciler.objects import API_VERSIONS, Kind, parse_kind

__all__ = ["explain_text", "register", "type_word"]

Schema = Mapping[str, Any]


def _resolve(node: Schema, root: Schema) -> Schema:
    """Follow ``$ref`` (``#/$defs/x``) and pick the object branch of ``anyOf``/``oneOf``."""
    seen = 0
    while "$ref" in node and seen < 20:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    for key in ("anyOf", "oneOf"):
        branches = [b for b in node.get(key) or [] if isinstance(b, Mapping)]
        typed = [_resolve(b, root) for b in branches]
        rich = next((b for b in typed if "properties" in b), typed[0] if typed else None)
        if rich is not None:
            node = {**rich, **{k: v for k, v in node.items() if k != key}}
    return node


def type_word(node: Schema, root: Schema) -> str:
    """kubectl's type word for a schema node.

    >>> type_word({"type": "array", "items": {"type": "object"}}, {})
    '[]Object'
    >>> type_word({"type": "object", "additionalProperties": {"type": "string"}}, {})
    'map[string]string'
    >>> type_word({"type": ["integer", "string"]}, {})
    'string'
    """
    node = _resolve(node, root)
    if node.get(UNSUPPORTED):
        return "ignored"
    kind = node.get("type")
    if isinstance(kind, list):
        kind = "string" if "string" in kind else next((k for k in kind if k != "null"), None)
    if kind == "array":
        return "[]" + type_word(node.get("items") or {}, root)
    if kind == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping) and "properties" not in node:
            return "map[string]" + type_word(extra, root)
        return "Object"
    if kind is None:
        if "enum" in node or "const" in node:
            values = [*(node.get("enum") or []), *([node["const"]] if "const" in node else [])]
            return "integer" if all(isinstance(v, int) for v in values) else "string"
        return "Object"
    return {"number": "number", "integer": "integer", "boolean": "boolean"}.get(kind, "string")


def _fields(node: Schema, root: Schema) -> Mapping[str, Schema]:
    node = _resolve(node, root)
    if node.get("type") == "array" or "items" in node:
        return _fields(node.get("items") or {}, root)
    return node.get("properties") or {}


def _description(node: Schema, root: Schema, *, docs: str = "") -> str:
    node = _resolve(node, root)
    parts = [str(node["description"])] if node.get("description") else [docs] if docs else []
    if "enum" in node:
        parts.append("One of: " + ", ".join(str(v) for v in node["enum"]) + ".")
    if "const" in node:
        parts.append(f"Always {node['const']}.")
    for key, word in (("minimum", "Minimum"), ("maximum", "Maximum")):
        if key in node:
            parts.append(f"{word}: {node[key]}.")
    return " ".join(parts)


def _wrap(text: str, indent: int) -> str:
    if not text:
        return " " * indent + "<empty>\n"
    lines = textwrap.wrap(text, width=80 - indent) or [""]
    return "".join(" " * indent + line + "\n" for line in lines)


def _field_list(
    node: Schema, root: Schema, *, recursive: bool, docs: Mapping[str, str], at: str, depth: int = 0
) -> str:
    resolved = _resolve(node, root)
    required = set(_resolve(resolved.get("items") or resolved, root).get("required") or [])
    out = ""
    for name, child in _fields(node, root).items():
        flag = " -required-" if name in required else ""
        indent = 3 + 3 * depth
        out += f"{' ' * indent}{name}\t<{type_word(child, root)}>{flag}\n"
        path = f"{at}.{name}" if at else name
        if recursive:
            if depth < 12:
                out += _field_list(child, root, recursive=True, docs=docs, at=path, depth=depth + 1)
        else:
            out += _wrap(_description(child, root, docs=docs.get(path, "")), indent + 2) + "\n"
    return out


def explain_text(kind: Kind, path: list[str], *, recursive: bool = False) -> str:
    """The ``explain`` page of ``kind`` at ``path`` (field names below the top)."""
    if kind is Kind.POD:  # a pod is a Deployment's pod template, made into an object
        root = load_schema(Kind.DEPLOYMENT)
        node: Schema = {"$ref": "#/$defs/podTemplate"}
        prefix = "spec.template."
        docs = {
            k.removeprefix(prefix): v
            for k, v in FIELD_DOCS["Deployment"].items()
            if k.startswith(prefix)
        }
        docs["spec"] = "Specification of the desired behavior of the pod."
    elif kind in SCHEMA_KINDS:
        root = load_schema(kind)
        node = root
        docs = FIELD_DOCS.get(str(kind), {})
    else:
        raise ReconcilerError(
            f"error: {kind.lower()}s are made by the reconciler, not written in manifests; "
            f"explain one of: pod, {', '.join(k.lower() for k in SCHEMA_KINDS)}"
        )
    walked: list[str] = []
    for field in path:
        fields = _fields(node, root)
        if field not in fields:
            where = ".".join([kind.lower(), *walked])
            raise ReconcilerError(f'error: field "{field}" does not exist in {where}')
        node = fields[field]
        walked.append(field)
    at = ".".join(path)
    out = f"KIND:     {kind}\nVERSION:  {API_VERSIONS[kind]}\n\n"
    if path:
        label = "RESOURCE:" if _fields(node, root) else "FIELD:"
        out += f"{label:<10}{path[-1]} <{type_word(node, root)}>\n\n"
        description = _description(node, root, docs=docs.get(at, ""))
    else:
        own = str(root.get("description", "")) if kind is not Kind.POD else ""
        description = KIND_DOCS.get(str(kind), "") + " " + own
    out += "DESCRIPTION:\n" + _wrap(description.strip(), 5)
    if _fields(node, root):
        listing = _field_list(node, root, recursive=recursive, docs=docs, at=at)
        out += "\nFIELDS:\n" + listing
    return out.rstrip("\n") + "\n"


def explain(args: argparse.Namespace) -> int:
    kind_word, *path = str(args.target).split(".")
    if "/" in kind_word:
        raise UsageError("error: explain takes TYPE[.field.path], not TYPE/NAME")
    # kubectl accepts a group or version after the kind: deployments.apps.spec → spec
    kind = parse_kind(kind_word)
    while path and path[0] in ("apps", "v1", "core"):
        path = path[1:]
    sys.stdout.write(explain_text(kind, path, recursive=args.recursive))
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "explain", help="the fields of a manifest kind, from the reconciler's schemas"
    )
    parser.add_argument("target", metavar="TYPE[.field.path]", help="e.g. deployment.spec.strategy")
    parser.add_argument(
        "--recursive", action="store_true", help="every field below, names and types only"
    )
    parser.set_defaults(func=explain)
