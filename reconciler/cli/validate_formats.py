"""The text, JSON, JUnit and GitHub outputs of ``reconciler validate``, and its exit code.

Each writer takes the report and the problems (after the target's additions) and writes one
format; ``WRITERS`` maps ``-o`` to it. SARIF and TAP, with the rule catalogue they carry, are in
``validate_output``. The exit code is kubeconform's: 2 when a file could not be read at all, 1 on
any error, else 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree

from reconciler.errors import Problem, Severity

if TYPE_CHECKING:
    from reconciler.manifests.validate import Report

__all__ = [
    "EXIT_INVALID",
    "EXIT_USAGE",
    "EXIT_VALID",
    "READ_RULES",
    "WRITERS",
    "exit_code",
    "summary",
    "summary_line",
]

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
READ_RULES = frozenset({"read"})
"""Load problems that mean the file could not be read at all (exit 2, not 1)."""


def exit_code(report: Report, problems: list[Problem]) -> int:
    """2 when a file could not be read at all; 1 on any error (a syntax error too); else 0."""
    if any(p.rule in READ_RULES and p.file in report.unreadable for p in problems):
        return EXIT_USAGE
    if report.unreadable or any(p.severity is Severity.ERROR for p in problems):
        return EXIT_INVALID
    return EXIT_VALID


def summary(report: Report, problems: list[Problem]) -> dict[str, int]:
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    summarized = sum(s.count for s in report.summarized)
    return {
        "resources": report.resources,
        "files": len(report.files),
        "valid": len(report.objects) + len(report.ignored),
        "invalid": report.invalid_resources,
        "errors": errors,
        "warnings": len(problems) - errors + summarized,
        "skipped": report.skipped,
        "ignored": len(report.ignored),
        "unreadable": len(report.unreadable),
    }


def summary_line(report: Report, problems: list[Problem]) -> str:
    """``Summary: 11 resources found in 4 files - Valid: 10, Invalid: 1, Errors: 2, ...``."""
    s = summary(report, problems)
    line = (
        f"Summary: {s['resources']} resources found in {s['files']} files - Valid: {s['valid']}, "
        f"Invalid: {s['invalid']}, Errors: {s['errors']}, Warnings: {s['warnings']}"
    )
    if s["skipped"]:
        line += f", Skipped: {s['skipped']}"
    if s["unreadable"]:
        line += f", Unreadable files: {s['unreadable']}"
    return line


def summarized_lines(report: Report) -> list[str]:
    """One line per warning rule that repeats across files (``--verbose`` lists them all)."""
    lines = []
    for item in report.summarized:
        first = item.first
        field = f"{first.field}: " if first.field else ""
        lines.append(
            f"warning: {item.rule}: {item.count} times in {item.files} files, first "
            f"{first.file}:{first.line}:{first.column}: {field}{first.message} "
            "(--verbose lists each)"
        )
    return lines


def ignored_lines(report: Report, *, verbose: bool) -> list[str]:
    """What the local daemon will not run: one line, or one per resource with ``--verbose``."""
    if not report.ignored:
        return []
    if verbose:
        return [
            f"{item.source}:{item.line}: info: {item.kind} {json.dumps(item.name)}: "
            + ("validated" if item.validated else "no schema, not validated")
            + f"; the local daemon does not run {item.kind} and ignores it (ignored-kind)"
            for item in report.ignored
        ]
    counts: dict[str, int] = {}
    for item in report.ignored:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    unchecked = sum(1 for item in report.ignored if not item.validated)
    note = f"; {unchecked} of them have no schema and were not validated" if unchecked else ""
    return [
        f"info: {len(report.ignored)} resources of kinds the local daemon does not run "
        f"({kinds}): `reconciler run` ignores them{note} (--verbose lists them)"
    ]


def write_text(
    report: Report,
    problems: list[Problem],
    out: TextIO,
    *,
    verbose: bool = False,
    local: bool = True,
) -> None:
    for problem in problems:
        out.write(problem.render() + "\n")
    ignored = ignored_lines(report, verbose=verbose) if local else []
    for line in [*summarized_lines(report), *ignored]:
        out.write(line + "\n")
    out.write(summary_line(report, problems) + "\n")


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "severity": str(problem.severity),
        "field": problem.field,
        "message": problem.message,
        "rule": problem.rule,
    }


def _ignored_reason(item: Any) -> str:
    return "validated, not run by the local daemon" if item.validated else "no schema, not run"


def write_json(
    report: Report, problems: list[Problem], out: TextIO, *, local: bool = True, **_: bool
) -> None:
    resources = (
        [
            {
                "kind": str(o.ref.kind),
                "namespace": o.ref.namespace,
                "name": o.ref.name,
                "file": o.source,
                "line": o.line,
                "valid": True,
                "digest": o.digest,
            }
            for o in report.objects
        ]
        + [
            {
                "kind": str(ref.kind),
                "namespace": ref.namespace,
                "name": ref.name,
                "file": found[0].file if found else "",
                "line": found[0].line if found else 0,
                "valid": False,
            }
            for ref, found in report.invalid.items()
        ]
        + [
            {
                "kind": item.kind,
                "apiVersion": item.api_version,
                "name": item.name,
                "file": item.source,
                "line": item.line,
                "valid": True,
                **({"ignored": _ignored_reason(item)} if local else {}),
            }
            for item in report.ignored
        ]
    )
    document = {
        "summary": {**summary(report, problems), "ok": exit_code(report, problems) == 0},
        "files": report.files,
        "unreadable": sorted(report.unreadable),
        "resources": resources,
        "problems": [_problem_json(p) for p in problems],
    }
    out.write(json.dumps(document, indent=2) + "\n")


def write_junit(report: Report, problems: list[Problem], out: TextIO, **_: bool) -> None:
    """One testsuite per file, one testcase per resource (and per problem with no resource)."""
    owned: dict[Problem, str] = {}
    cases: dict[str, list[tuple[str, list[Problem]]]] = {name: [] for name in report.files}
    for ref, found in report.invalid.items():
        file = found[0].file if found else ""
        cases.setdefault(file, []).append((ref.display, found))
        for problem in found:
            owned[problem] = ref.display
    for obj in report.objects:  # warnings go to the file's <system-out>
        cases.setdefault(obj.source, []).append((obj.ref.display, []))
    for problem in problems:
        if problem not in owned and problem.severity is Severity.ERROR:
            cases.setdefault(problem.file, []).append((f"{problem.file}:{problem.line}", [problem]))
    root = ElementTree.Element("testsuites", name="reconciler validate")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for file, file_cases in cases.items():
        suite = ElementTree.SubElement(root, "testsuite", name=file)
        failures = errors = 0
        for name, found in file_cases:
            case = ElementTree.SubElement(suite, "testcase", classname=file, name=name)
            failing = [p for p in found if p.severity is Severity.ERROR]
            if failing:
                tag = "error" if file in report.unreadable else "failure"
                element = ElementTree.SubElement(
                    case, tag, message=failing[0].message, type=failing[0].rule
                )
                element.text = "\n".join(p.render() for p in failing)
                if tag == "error":
                    errors += 1
                else:
                    failures += 1
        notes = [p.render() for p in problems if p.file == file and p.severity is Severity.WARNING]
        if notes:
            ElementTree.SubElement(suite, "system-out").text = "\n".join(notes)
        suite.set("tests", str(len(file_cases)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", "0")
        totals["tests"] += len(file_cases)
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        root.set(key, str(value))
    ElementTree.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ElementTree.tostring(root, encoding="unicode") + "\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_github(
    report: Report,
    problems: list[Problem],
    out: TextIO,
    *,
    verbose: bool = False,
    local: bool = True,
) -> None:
    """GitHub workflow commands: each problem becomes an annotation on its line."""
    for problem in problems:
        level = "error" if problem.severity is Severity.ERROR else "warning"
        props = ",".join(
            f"{key}={_escape_property(value)}"
            for key, value in (
                ("file", problem.file),
                ("line", str(problem.line)),
                ("col", str(problem.column)),
                ("title", f"reconciler validate ({problem.rule})"),
            )
        )
        field = f"{problem.field}: " if problem.field else ""
        out.write(f"::{level} {props}::{_escape_data(field + problem.message)}\n")
    for item in report.summarized:
        first = item.first
        props = ",".join(
            f"{key}={_escape_property(value)}"
            for key, value in (
                ("file", first.file),
                ("line", str(first.line)),
                ("col", str(first.column)),
                ("title", f"reconciler validate ({item.rule}, {item.count} times)"),
            )
        )
        message = f"{item.count} times in {item.files} files, first: {first.message}"
        out.write(f"::warning {props}::{_escape_data(message)}\n")
    for line in ignored_lines(report, verbose=verbose) if local else []:
        out.write(f"::notice::{_escape_data(line)}\n")
    out.write(summary_line(report, problems) + "\n")


def _sarif(report: Report, problems: list[Problem], out: TextIO, **_: bool) -> None:
    from reconciler.cli.validate_output import write_sarif

    write_sarif(report, problems, out)


def _tap(report: Report, problems: list[Problem], out: TextIO, **_: bool) -> None:
    from reconciler.cli.validate_output import write_tap

    write_tap(report, problems, out)


WRITERS: dict[str, Callable[..., None]] = {
    "text": write_text,
    "json": write_json,
    "junit": write_junit,
    "github": write_github,
    "sarif": _sarif,
    "tap": _tap,
}
