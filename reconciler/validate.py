"""Validate manifests: the one gate between a folder of YAML and everything downstream.

The daemon and ``reconciler validate`` in CI both call this, so a manifest that passes here is
one the engine can run, and a manifest that fails says where (file:line:col) and why. The
pipeline per document: kind and apiVersion, then the JSON schema (compiled fast path, detailed
report only on failure), then the API server's own rules (``reconciler.rules``); then rules
across objects (``reconciler.crossrules``). It only ever returns problems; it never raises on
input, whatever the input.

An object is *valid* when it has no error (warnings allowed, unless ``strict``). The objects
are returned as written, not defaulted: defaulting belongs to the diff and the engine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from reconciler.configrules import check_configmap, check_secret
from reconciler.crossrules import Entry, check_all
from reconciler.envrules import check_env
from reconciler.errors import Problem, Severity
from reconciler.manifest import Document, gc_paused, load_each
from reconciler.objects import API_VERSIONS, DEFAULT_NAMESPACE, Kind, ObjectRef
from reconciler.rules import check_deployment, check_service
from reconciler.schema import SCHEMA_KINDS, Finding, SchemaChecker

__all__ = ["Report", "ValidObject", "digest_of", "field_of", "validate_documents", "validate_paths"]

_KINDS = frozenset(str(kind) for kind in Kind)
SUPPORTED = ", ".join(f"{kind} ({API_VERSIONS[kind]})" for kind in SCHEMA_KINDS)


def _deployment_rules(obj: dict[str, Any]) -> list[Finding]:
    pod_path = ("spec", "template", "spec")
    return [*check_deployment(obj), *check_env(obj["spec"]["template"]["spec"], pod_path)]


_RULES = {
    Kind.DEPLOYMENT: _deployment_rules,
    Kind.SERVICE: check_service,
    Kind.CONFIGMAP: check_configmap,
    Kind.SECRET: check_secret,
}
_SECRET_VALUES = ("data", "stringData")


@dataclass(frozen=True, slots=True)
class ValidObject:
    """An object with no error, as written, with where it came from."""

    ref: ObjectRef
    obj: dict[str, Any]
    source: str
    line: int
    digest: str
    file_sha256: str


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the validator found in one set of files."""

    objects: list[ValidObject]
    invalid: dict[ObjectRef, list[Problem]]
    problems: list[Problem]
    files: list[str]
    unreadable: frozenset[str]
    resources: int = 0
    """Documents that held a resource (empty documents are not counted)."""
    invalid_resources: int = 0
    """Resources with at least one error, whether or not their kind and name were readable."""

    @property
    def ok(self) -> bool:
        return not self.unreadable and not any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.WARNING)


def validate_paths(
    paths: Sequence[str | os.PathLike[str]], *, strict: bool = False, stdin: TextIO | None = None
) -> Report:
    """Load ``paths`` (files, directories, ``-``) and validate every document.

    Documents keep their text, not their node trees: positions are found again by parsing the
    text of the few documents that have a problem, so memory stays low on large folders.
    """
    staged: list[_Staged] = []
    load_problems: list[Problem] = []
    files: list[str] = []
    unreadable: set[str] = set()
    with gc_paused():
        for result in load_each(paths, stdin=stdin, keep_nodes=False):
            files.extend(result.files)
            unreadable.update(result.unreadable)
            load_problems.extend(result.problems)
            staged.extend(_stage(doc, strict=strict, keep_nodes=False) for doc in result.documents)
        return _finish(
            staged,
            strict=strict,
            load_problems=load_problems,
            files=files,
            unreadable=frozenset(unreadable),
        )


def validate_documents(
    documents: Sequence[Document], *, strict: bool = False, config_refs_block: bool = True
) -> Report:
    """Validate already loaded documents (their load problems count too).

    ``config_refs_block=False`` (the daemon) makes a reference to a ConfigMap, Secret or key
    that does not exist a warning: the API server accepts such a Deployment (the ConfigMap may
    come later), its pods wait in ``CreateContainerConfigError`` and start once it exists.
    ``validate`` in CI keeps it an error.
    """
    files = list(dict.fromkeys(doc.source for doc in documents))
    problems = [p for doc in documents for p in doc.load_problems]
    with gc_paused():
        staged = [_stage(doc, strict=strict, keep_nodes=True) for doc in documents]
        return _finish(
            staged,
            strict=strict,
            load_problems=problems,
            files=files,
            unreadable=frozenset(),
            config_refs_block=config_refs_block,
        )


def digest_of(obj: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def field_of(path: Sequence[str | int]) -> str:
    """``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


@functools.cache
def _checker(kind: Kind) -> SchemaChecker:
    return SchemaChecker(kind)


def _ref(obj: dict[str, Any]) -> ObjectRef | None:
    """The object's identity, when its kind is supported and its name is a string."""
    word = obj.get("kind")
    if not isinstance(word, str) or word not in _KINDS:
        return None
    kind = Kind(word)
    metadata = obj.get("metadata")
    if kind not in SCHEMA_KINDS or not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace", DEFAULT_NAMESPACE)
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        return None
    return ObjectRef(kind, namespace or DEFAULT_NAMESPACE, name)


def _kind_findings(obj: dict[str, Any]) -> list[Finding]:
    """Supported kind and apiVersion, or why not (nothing else is checked without them)."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    findings = []
    if api_version is None:
        findings.append(
            Finding(("apiVersion",), "Required value: apiVersion not set", "kind", at=())
        )
    if kind is None:
        findings.append(Finding(("kind",), "Required value: kind not set", "kind", at=()))
        return findings
    known = Kind(kind) if isinstance(kind, str) and kind in _KINDS else None
    if known not in SCHEMA_KINDS:
        findings.append(
            Finding(
                ("kind",),
                f"Unsupported value: {json.dumps(kind, default=str)}: supported "
                f"kinds are {SUPPORTED}",
                "kind",
            )
        )
        return findings
    assert known is not None
    expected = API_VERSIONS[known]
    if api_version is not None and api_version != expected:
        findings.append(
            Finding(
                ("apiVersion",),
                f"Unsupported value: {json.dumps(api_version, default=str)}: "
                f"{known} is served as {expected} (supported kinds are {SUPPORTED})",
                "kind",
            )
        )
    return findings


def _object_findings(obj: dict[str, Any]) -> tuple[list[Finding], bool]:
    """(findings, passed the schema) of one document."""
    findings = _kind_findings(obj)
    if findings:
        return findings, False
    kind = Kind(obj["kind"])
    findings = _checker(kind).check(obj)
    broken = [f.path for f in findings if f.severity is Severity.ERROR]
    # The API-server rules run even when the schema failed, so one CI run reports every error
    # (a typo such as `replica:` must not hide a selector that matches nothing). Their findings
    # inside a field the schema already rejected are dropped (one complaint per field), and a
    # rule that trips over a wrongly typed value is quiet: the schema error says what is wrong.
    try:
        rules = _RULES[kind](obj)
    except Exception as exc:  # a rule that trips on odd input must not take the daemon down
        rules = (
            []
            if broken
            else [Finding((), f"internal error in a validation rule: {exc!r}", "internal")]
        )
    findings.extend(
        r for r in rules if not any(tuple(r.path[: len(b)]) == tuple(b) for b in broken)
    )
    if kind is Kind.SECRET:
        findings = [_without_value(f) for f in findings]
    return findings, not broken


def _without_value(finding: Finding) -> Finding:
    """A schema message about a Secret's value quotes it (``12 is not of type 'string'``):
    the message names the key instead, so no value reaches an event or the daemon's log."""
    path = finding.path
    if len(path) >= 2 and path[0] in _SECRET_VALUES and finding.rule == "schema":
        message = f"Invalid value: the value of key {str(path[1])!r} must be a string (not shown)"
        return Finding(path, message, finding.rule, finding.severity, finding.at)
    if len(path) == 1 and path[0] in _SECRET_VALUES and finding.rule == "schema":
        message = f"Invalid value: {path[0]} must be a map of keys to string values (not shown)"
        return Finding(path, message, finding.rule, finding.severity, finding.at)
    return finding


def _problem(doc: Document, finding: Finding, *, strict: bool) -> Problem:
    line, column = doc.position(finding.at if finding.at is not None else finding.path)
    severity = Severity.ERROR if strict else finding.severity
    return Problem(
        file=doc.source,
        line=line,
        column=column,
        severity=severity,
        message=finding.message,
        rule=finding.rule,
        field=field_of(finding.path),
    )


@dataclass(slots=True)
class _Staged:
    """One document after its own checks, waiting for the cross-object rules."""

    doc: Document
    ref: ObjectRef | None
    checked: bool
    problems: list[Problem]


def _stage(doc: Document, *, strict: bool, keep_nodes: bool) -> _Staged:
    findings, checked = _object_findings(doc.obj)
    problems = [_problem(doc, f, strict=strict) for f in findings]
    return _Staged(
        doc=doc if keep_nodes else doc.without_nodes(),
        ref=_ref(doc.obj),
        checked=checked,
        problems=problems,
    )


def _finish(
    staged: Sequence[_Staged],
    *,
    strict: bool,
    load_problems: Sequence[Problem],
    files: list[str],
    unreadable: frozenset[str],
    config_refs_block: bool = True,
) -> Report:
    entries: list[Entry] = []
    owners: list[_Staged] = []
    for item in staged:
        if item.ref is not None:
            entries.append(Entry(ref=item.ref, doc=item.doc, checked=item.checked))
            owners.append(item)
    try:
        hits = check_all(entries)
    except Exception as exc:  # pragma: no cover - see _object_findings
        hits = [(0, Finding((), f"internal error in a validation rule: {exc!r}", "internal"))]
    for entry_index, finding in hits:
        if not config_refs_block and finding.rule == "config-ref":
            finding = Finding(finding.path, finding.message, finding.rule, Severity.WARNING)
        if entry_index < len(owners):
            owner = owners[entry_index]
            owner.problems.append(_problem(owner.doc, finding, strict=strict))

    objects: list[ValidObject] = []
    invalid: dict[ObjectRef, list[Problem]] = {}
    invalid_count = 0
    for item in staged:
        doc = item.doc
        mine = [p.with_severity(Severity.ERROR) if strict else p for p in doc.load_problems]
        mine += item.problems
        mine.sort(key=lambda p: (p.line, p.column))
        if any(p.severity is Severity.ERROR for p in mine) or item.ref is None:
            invalid_count += 1
            if item.ref is not None:
                invalid.setdefault(item.ref, []).extend(mine)
            continue
        objects.append(
            ValidObject(
                ref=item.ref,
                obj=doc.obj,
                source=doc.source,
                line=doc.line,
                digest=digest_of(doc.obj),
                file_sha256=doc.file_sha256,
            )
        )
    order = {name: i for i, name in enumerate(files)}
    problems = [p.with_severity(Severity.ERROR) if strict else p for p in load_problems]
    problems += [p for item in staged for p in item.problems]
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line, p.column))
    return Report(
        objects=objects,
        invalid=invalid,
        problems=problems,
        files=files,
        unreadable=unreadable,
        resources=len(staged),
        invalid_resources=invalid_count,
    )
