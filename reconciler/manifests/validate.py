"""Validate manifests: the one gate between a folder of YAML and everything downstream.

The daemon and ``reconciler validate`` in CI both call this, so a manifest that passes here is
one the engine can run, and a manifest that fails says where (file:line:col) and why. The
pipeline per document (``manifests.kindcheck``): kind and apiVersion, deprecations, then the
JSON schema (compiled fast path, detailed report only on failure; ours for the kinds the daemon
runs, upstream for every other), then the API server's own rules (``manifests.rules``); then
rules across objects (``manifests.crossrules``) and, with ``lint``, best practices
(``manifests.lint``). It only ever returns problems; it never raises on input, whatever the
input.

Positions are found last, and only for the findings that will be shown: a document is parsed
for its line and column only when it has one (``Options.summarize`` counts repeated warnings
without locating each), so the cost follows the findings, not the bytes.

An object is *valid* when it has no error (warnings allowed, unless ``strict``). The objects
are returned as written, not defaulted: defaulting belongs to the diff and the engine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from reconciler.errors import Problem, Severity
from reconciler.manifests.crossrules import Entry, check_all
from reconciler.manifests.kindcheck import DAEMON, Disposition, Options, check
from reconciler.manifests.load import Document, gc_paused, load_each
from reconciler.manifests.schema import SCHEMA_KINDS, Finding
from reconciler.objects import DEFAULT_NAMESPACE, Kind, ObjectRef

__all__ = [
    "Ignored",
    "Options",
    "Report",
    "Summary",
    "ValidObject",
    "digest_of",
    "field_of",
    "validate_documents",
    "validate_paths",
]

_KINDS = frozenset(str(kind) for kind in Kind)
IGNORE_ANNOTATION = "reconciler.dev/ignore"
"""``metadata.annotations``: ``ID[,ID]`` of warnings (lint checks) not to report for it."""


@dataclass(frozen=True, slots=True)
class ValidObject:
    """An object with no error, as written, with where it came from."""

    ref: ObjectRef
    obj: dict[str, Any]
    source: str
    line: int
    digest: str
    file_sha256: str
    document: Document | None = field(default=None, compare=False, repr=False)
    """Its document, to locate later findings (export's portability warnings)."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid object of a kind the daemon does not run (an Ingress, a CRD's resource)."""

    source: str
    line: int
    api_version: str
    kind: str
    name: str
    validated: bool
    """False when no schema was found and missing schemas are ignored."""


@dataclass(frozen=True, slots=True)
class Summary:
    """Warnings of one rule in more than one resource, counted instead of listed."""

    rule: str
    count: int
    files: int
    first: Problem


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
    ignored: tuple[Ignored, ...] = ()
    skipped: int = 0
    summarized: tuple[Summary, ...] = ()
    """Repeated warnings left out of ``problems`` (``Options.summarize``)."""

    @property
    def ok(self) -> bool:
        return not self.unreadable and not any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        listed = sum(1 for p in self.problems if p.severity is Severity.WARNING)
        return listed + sum(s.count for s in self.summarized)


def validate_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    stdin: TextIO | None = None,
    options: Options = DAEMON,
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
        for result in load_each(paths, stdin=stdin, keep_nodes=False, fast=True):
            files.extend(result.files)
            unreadable.update(result.unreadable)
            load_problems.extend(result.problems)
            staged.extend(_stage(doc, options=options) for doc in result.documents)
        return _finish(
            staged,
            strict=strict,
            options=options,
            load_problems=load_problems,
            files=files,
            unreadable=frozenset(unreadable),
        )


def validate_documents(
    documents: Sequence[Document],
    *,
    strict: bool = False,
    options: Options = DAEMON,
    config_refs_block: bool = True,
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
        staged = [_stage(doc, options=options) for doc in documents]
        return _finish(
            staged,
            strict=strict,
            options=options,
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


def _ref(obj: dict[str, Any]) -> ObjectRef | None:
    """The object's identity, when its kind is one the daemon runs and its name is a string."""
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
    disposition: Disposition
    findings: list[Finding]
    """Not located yet: positions are found once it is known which will be shown."""


def _stage(doc: Document, *, options: Options) -> _Staged:
    result = check(doc.obj, options)
    findings = result.findings
    if options.lint and result.disposition is not Disposition.SKIPPED:
        from reconciler.manifests.lint import lint_object

        findings = findings + lint_object(doc.obj)
    return _Staged(
        doc=doc.without_nodes(),
        ref=_ref(doc.obj) if result.disposition is Disposition.RUN else None,
        checked=result.passed_schema,
        disposition=result.disposition,
        findings=findings,
    )


def _suppressed(obj: dict[str, Any]) -> frozenset[str]:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    value = annotations.get(IGNORE_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _cross(staged: Sequence[_Staged], options: Options, *, config_refs_block: bool) -> None:
    """Rules across objects: each hit joins the findings of the document it is about."""
    entries: list[Entry] = []
    owners: list[_Staged] = []
    for item in staged:
        if item.ref is not None:
            entries.append(Entry(ref=item.ref, doc=item.doc, checked=item.checked))
            owners.append(item)
    try:
        hits = check_all(entries)
    except Exception as exc:  # pragma: no cover - a rule must not take the daemon down
        hits = [(0, Finding((), f"internal error in a validation rule: {exc!r}", "internal"))]
    for entry_index, finding in hits:
        if not config_refs_block and finding.rule == "config-ref":
            finding = Finding(finding.path, finding.message, finding.rule, Severity.WARNING)
        if options.lint and finding.rule == "selects-nothing":
            continue  # lint's service-selects-nothing says it, for every kind of workload
        if entry_index < len(owners) and not options.local_finding(finding):
            owners[entry_index].findings.append(finding)
    if options.lint:
        from reconciler.manifests.lint import lint_all

        lintable = [item for item in staged if item.disposition is not Disposition.SKIPPED]
        for index, finding in lint_all([item.doc for item in lintable]):
            lintable[index].findings.append(finding)


def _locate(
    staged: Sequence[_Staged], *, strict: bool, options: Options
) -> tuple[list[list[Problem]], tuple[Summary, ...]]:
    """Problems per staged document, located; repeated warnings summarised if asked."""
    quiet: dict[str, int] = {}
    files_of: dict[str, set[str]] = defaultdict(set)
    if options.summarize and not strict:
        resources: dict[str, int] = defaultdict(int)
        for item in staged:
            for rule in {f.rule for f in item.findings if f.severity is Severity.WARNING}:
                files_of[rule].add(item.doc.source)
                resources[rule] += 1
        quiet = {rule: 0 for rule, count in resources.items() if count > 1}
    firsts: dict[str, Problem] = {}
    out: list[list[Problem]] = []
    for item in staged:
        ignore = _suppressed(item.doc.obj)
        mine: list[Problem] = []
        for finding in item.findings:
            if finding.severity is not Severity.ERROR and finding.rule in ignore:
                continue
            if finding.severity is Severity.WARNING and finding.rule in quiet:
                quiet[finding.rule] += 1
                if finding.rule not in firsts:
                    firsts[finding.rule] = _problem(item.doc, finding, strict=False)
                continue
            mine.append(_problem(item.doc, finding, strict=strict))
        item.doc.release()  # located: its node tree is not needed any more
        out.append(mine)
    summaries = tuple(
        Summary(rule, count, len(files_of[rule]), firsts[rule])
        for rule, count in quiet.items()
        if count
    )
    return out, summaries


def _finish(
    staged: Sequence[_Staged],
    *,
    strict: bool,
    options: Options,
    load_problems: Sequence[Problem],
    files: list[str],
    unreadable: frozenset[str],
    config_refs_block: bool = True,
) -> Report:
    _cross(staged, options, config_refs_block=config_refs_block)
    located, summarized = _locate(staged, strict=strict, options=options)
    objects: list[ValidObject] = []
    ignored: list[Ignored] = []
    invalid: dict[ObjectRef, list[Problem]] = {}
    invalid_count = skipped = 0
    for item, problems in zip(staged, located, strict=True):
        doc = item.doc
        mine = [p.with_severity(Severity.ERROR) if strict else p for p in doc.load_problems]
        mine += problems
        mine.sort(key=lambda p: (p.line, p.column))
        if item.disposition is Disposition.SKIPPED:
            skipped += 1
            continue
        failed = any(p.severity is Severity.ERROR for p in mine)
        if failed or (item.ref is None and item.disposition is Disposition.RUN):
            invalid_count += 1
            if item.ref is not None:
                invalid.setdefault(item.ref, []).extend(mine)
            continue
        if item.ref is None:
            metadata = doc.obj.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            ignored.append(
                Ignored(
                    source=doc.source,
                    line=doc.line,
                    api_version=str(doc.obj.get("apiVersion")),
                    kind=str(doc.obj.get("kind")),
                    name=name if isinstance(name, str) else "",
                    validated=item.disposition is Disposition.IGNORED,
                )
            )
            continue
        objects.append(
            ValidObject(
                ref=item.ref,
                obj=doc.obj,
                source=doc.source,
                line=doc.line,
                digest=digest_of(doc.obj),
                file_sha256=doc.file_sha256,
                document=doc,
            )
        )
    order = {name: i for i, name in enumerate(files)}
    problems = [p.with_severity(Severity.ERROR) if strict else p for p in load_problems]
    problems += [p for mine in located for p in mine]
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line, p.column))
    return Report(
        objects=objects,
        invalid=invalid,
        problems=problems,
        files=files,
        unreadable=unreadable,
        resources=len(staged),
        invalid_resources=invalid_count,
        ignored=tuple(ignored),
        skipped=skipped,
        summarized=summarized,
    )
