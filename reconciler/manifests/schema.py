"""The JSON schemas: loading them, checking an object fast, and explaining a failure well.

Two validators, for two jobs. A compiled validator (``jsonschema-rs``) answers "is this object
valid?" for every document at native speed; only a document that fails is checked again with
the pure-Python ``jsonschema`` to get its detailed errors, whose messages read the way Python
users expect (``'three' is not of type 'integer'``). An unknown field becomes an
``unknown-field`` error with a "did you mean" hint; a field Kubernetes knows but the local
runtime does not use (``x-reconciler-unsupported`` in the schema) is a warning.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as _Path
from typing import Any

from reconciler.errors import Severity
from reconciler.objects import Kind

__all__ = ["SCHEMA_KINDS", "Finding", "SchemaChecker", "combined_schema", "load_schema"]

SCHEMA_KINDS: dict[Kind, str] = {
    Kind.DEPLOYMENT: "deployment",
    Kind.SERVICE: "service",
    Kind.CONFIGMAP: "configmap",
    Kind.SECRET: "secret",
}
UNSUPPORTED = "x-reconciler-unsupported"
_SCHEMAS = _Path(__file__).resolve().parent.parent / "schemas"

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem of one object, located by a path inside it (positions come later)."""

    path: Path
    message: str
    rule: str
    severity: Severity = Severity.ERROR
    at: Path | None = None
    """Where to point when ``path`` itself is not written (a missing field: its parent)."""


@functools.cache
def load_schema(kind: Kind) -> dict[str, Any]:
    """The JSON schema of ``kind``, as shipped inside the package."""
    name = f"{SCHEMA_KINDS[kind]}.schema.json"
    text = (_SCHEMAS / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def combined_schema() -> dict[str, Any]:
    """One schema for any manifest, choosing by ``kind`` (for yaml-language-server)."""
    branches = []
    defs: dict[str, Any] = {}
    for kind, name in SCHEMA_KINDS.items():
        schema = dict(load_schema(kind))
        schema.pop("$schema", None)
        schema.pop("$id", None)
        defs[name] = schema
        branches.append(
            {
                "if": {"properties": {"kind": {"const": str(kind)}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{name}"},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://reconciler.local/schemas/manifest.schema.json",
        "title": "reconciler manifest (apps/v1 Deployment, v1 Service, ConfigMap or Secret)",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {"kind": {"enum": [str(kind) for kind in SCHEMA_KINDS]}},
        "allOf": branches,
        "$defs": defs,
    }


class SchemaChecker:
    """Schema findings of one kind: fast yes/no first, details only for failures."""

    def __init__(
        self, kind: Kind | None = None, *, schema: dict[str, Any] | None = None, local: bool = True
    ) -> None:
        """``kind``: one of our own schemas; ``schema``: any other (upstream, CRD).
        ``local=False``: no ``unsupported-field`` warnings (they are about the local runtime)."""
        self.kind = kind
        if schema is None:
            assert kind is not None
            schema = load_schema(kind)
        self.schema = schema
        self._fast = _compiled(self.schema)
        self._detailed: Any = None
        self._unsupported = _unsupported_tree(self.schema, self.schema) if local else {}

    def check(self, obj: dict[str, Any]) -> list[Finding]:
        """Errors (schema, unknown-field) and warnings (unsupported-field) of one object."""
        findings: list[Finding] = []
        if self._fast is None or not _fast_valid(self._fast, obj):
            findings.extend(self._details(obj))
        if self._unsupported:
            _walk_unsupported(obj, self._unsupported, (), findings)
            if _runs_on_podman(obj):
                findings = [f for f in findings if not _podman_honours(f)]
        return findings

    def valid(self, obj: dict[str, Any]) -> bool:
        """Whether ``obj`` passes the schema, without explaining why not."""
        if self._fast is not None:
            return _fast_valid(self._fast, obj)
        return not any(f.severity is Severity.ERROR for f in self._details(obj))

    def _details(self, obj: dict[str, Any]) -> Iterator[Finding]:
        quick = _native_details(self._fast, self.schema, obj) if self._fast is not None else None
        if quick is not None:
            yield from quick
            return
        if self._detailed is None:
            import jsonschema  # imported only when some document fails: it costs ~40 ms

            cls = jsonschema.validators.validator_for(
                self.schema, default=jsonschema.Draft202012Validator
            )
            self._detailed = cls(self.schema)
        errors = sorted(self._detailed.iter_errors(obj), key=lambda e: _path_key(e.absolute_path))
        for error in errors:
            yield from _explain(error)


def _compiled(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the pure-Python validator does all the work
        return None
    if "$schema" not in schema:  # CRD schemas often name no draft: read them as 2020-12
        return jsonschema_rs.Draft202012Validator(schema)
    return jsonschema_rs.validator_for(schema)


_NATIVE = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "pattern", "required", "additionalProperties"}
)
"""Error kinds worded here from ``jsonschema-rs`` errors exactly as ``jsonschema`` words them;
a document with any other kind of error is explained by ``jsonschema`` (slower, imported then)."""


def _native_details(validator: Any, schema: dict[str, Any], obj: Any) -> list[Finding] | None:
    try:
        errors = list(validator.iter_errors(obj))
    except (ValueError, TypeError, OverflowError):
        return None
    if not errors or any(error.kind.name not in _NATIVE for error in errors):
        return None
    found: list[tuple[Path, int, int, Finding]] = []
    for order, error in enumerate(errors):
        path: Path = tuple(error.instance_path)
        kind, instance = error.kind, error.instance
        name = kind.name
        node: Any = schema
        for step in list(error.schema_path)[:-1]:
            node = node[step] if isinstance(node, dict) else node[int(step)]
        # jsonschema reports a subschema's errors in the order of its keywords
        keywords = list(node) if isinstance(node, dict) else []
        rank = keywords.index(name) if name in keywords else len(keywords)
        if name == "required":
            findings = [Finding((*path, kind.property), "Required value", "schema", at=path)]
        elif name == "additionalProperties":
            known = list(node.get("properties", {})) if isinstance(node, dict) else []
            findings = [
                Finding((*path, key), _unknown_field(str(key), known), "unknown-field")
                for key in instance
                if key not in known
            ]
        else:
            findings = [Finding(path, _message(name, kind, instance), "schema")]
        found.extend((path, rank, order, finding) for finding in findings)
    found.sort(key=lambda item: (_path_key(item[0]), item[1], item[2]))
    return [finding for _, _, _, finding in found]


def _message(name: str, kind: Any, instance: Any) -> str:
    """The message ``jsonschema`` would give for this error."""
    if name == "type":
        return f"{instance!r} is not of type {', '.join(repr(t) for t in kind.types)}"
    if name == "enum":
        return f"{instance!r} is not one of {list(kind.options)!r}"
    if name == "const":
        return f"{kind.expected!r} was expected"
    if name == "minimum":
        return f"{instance!r} is less than the minimum of {kind.limit!r}"
    if name == "maximum":
        return f"{instance!r} is greater than the maximum of {kind.limit!r}"
    return f"{instance!r} does not match {kind.pattern!r}"


def _fast_valid(validator: Any, obj: dict[str, Any]) -> bool:
    try:
        return bool(validator.is_valid(obj))
    except (ValueError, TypeError, OverflowError):  # a value JSON cannot hold: explain it slowly
        return False


def _path_key(path: Any) -> tuple[tuple[int, str], ...]:
    return tuple((0, str(p)) if isinstance(p, int) else (1, str(p)) for p in path)


def _explain(error: Any) -> Iterator[Finding]:
    """One ``jsonschema.ValidationError`` -> findings worded for a manifest author."""
    path: Path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                yield Finding((*path, key), _unknown_field(str(key), known), "unknown-field")
        return
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance:
                yield Finding((*path, name), "Required value", "schema", at=path)
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        yield from _explain(best)
        return
    yield Finding(path, str(error.message), "schema")


def _unknown_field(key: str, known: list[str]) -> str:
    message = f'unknown field "{key}"'
    by_case = [name for name in known if name.lower() == key.lower()]
    close = by_case or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        message += f'; did you mean "{close[0]}"?'
    return message


# --- unsupported fields -----------------------------------------------------------------------

Tree = dict[str, Any]  # key -> subtree, or a str (the reason) for an unsupported leaf; "*" = items


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    while isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = root["$defs"][ref.removeprefix("#/$defs/")]
        ref = node.get("$ref")
    return node


def _unsupported_tree(node: dict[str, Any], root: dict[str, Any], depth: int = 0) -> Tree:
    """The paths of ``x-reconciler-unsupported`` fields, as a tree to walk objects along."""
    tree: Tree = {}
    if depth > 32:  # pragma: no cover - the schemas are not recursive
        return tree
    node = _resolve(node, root)
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(sub, root)
        if sub.get(UNSUPPORTED):
            tree[key] = str(sub.get("description", "not used by the local runtime"))
            continue
        child = _unsupported_tree(sub, root, depth + 1)
        if child:
            tree[key] = child
    items = node.get("items")
    if isinstance(items, dict):
        child = _unsupported_tree(items, root, depth + 1)
        if child:
            tree["*"] = child
    return tree


# container fields podman honours that the process runtime ignores
PODMAN_FIELDS = frozenset({"imagePullPolicy", "tty", "stdin", "volumeMounts"})


def _runs_on_podman(obj: Any) -> bool:
    """``spec.template.spec.runtimeClassName: podman`` (any other shape: no)."""
    node = obj
    for key in ("spec", "template", "spec"):
        node = node.get(key) if isinstance(node, dict) else None
    return isinstance(node, dict) and node.get("runtimeClassName") == "podman"


def _podman_honours(finding: Finding) -> bool:
    path = finding.path
    if finding.rule != "unsupported-field":
        return False
    if len(path) == 4 and path[:3] == ("spec", "template", "spec"):
        return path[3] in ("imagePullSecrets", "volumes")
    return (
        len(path) == 6
        and path[:4] == ("spec", "template", "spec", "containers")
        and path[-1] in PODMAN_FIELDS
    )


def _walk_unsupported(obj: Any, tree: Tree, path: Path, out: list[Finding]) -> None:
    if isinstance(obj, dict):
        for key, sub in tree.items():
            if key in obj:
                if isinstance(sub, str):
                    out.append(Finding((*path, key), sub, "unsupported-field", Severity.WARNING))
                else:
                    _walk_unsupported(obj[key], sub, (*path, key), out)
    elif isinstance(obj, list) and "*" in tree:
        items = tree["*"]
        for index, item in enumerate(obj):
            _walk_unsupported(item, items, (*path, index), out)
