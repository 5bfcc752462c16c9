"""``reconciler validate`` and ``reconciler schema``: the validator for CI, editors and hooks.

A pull request that breaks a manifest must fail with a message that points at the line, in the
shape the CI reads: plain text (``file:line:col: error: field: message (rule)``), JSON, JUnit
XML or GitHub workflow annotations. Exit codes: 0 all valid, 1 some object invalid, 2 usage
errors or unreadable input (a file that cannot be read or parsed, so its objects are unknown).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree

from reconciler.errors import Problem, Severity, UsageError
from reconciler.objects import parse_kind
from reconciler.paths import find_state_dir

if TYPE_CHECKING:
    from reconciler.validate import Report

FORMATS = ("text", "json", "junit", "github")
TARGETS = ("local", "kubernetes")
"""``local``: what this host runs. ``kubernetes``: also what would not carry over to a cluster."""

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def register(commands: Any, rollout: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="validate manifests (schema and API-server rules), for CI and pre-commit",
        description="Validate Deployment and Service manifests: JSON schema, the API server's "
        "own rules and rules across objects. Exit 0 when all are valid, 1 when any is "
        "invalid, 2 on usage errors or unreadable input.",
    )
    validate.add_argument(
        "paths",
        nargs="*",
        default=["manifests"],
        metavar="PATH",
        help="files, directories (recursive *.yaml, *.yml) or - for stdin (default: manifests)",
    )
    validate.add_argument(
        "-o", "--output", choices=FORMATS, default="text", help="output format (default: text)"
    )
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument(
        "--target",
        choices=TARGETS,
        default="local",
        help="local: what this host runs (default); kubernetes: also report what would not "
        "carry over to a real cluster",
    )
    validate.set_defaults(func=run_validate)

    schema = commands.add_parser(
        "schema",
        help="print the JSON schema of a kind (for editors and other tools)",
        description="Print a JSON Schema (2020-12). Without KIND: one schema for any manifest, "
        "choosing by kind, e.g. for yaml-language-server.",
    )
    schema.add_argument(
        "kind", nargs="?", metavar="KIND", help="deployment, service, configmap or secret"
    )
    schema.set_defaults(func=run_schema)


def run_schema(args: argparse.Namespace) -> int:
    from reconciler.schema import SCHEMA_KINDS, combined_schema, load_schema

    if args.kind is None:
        document = combined_schema()
    else:
        kind = parse_kind(args.kind)
        if kind not in SCHEMA_KINDS:
            supported = ", ".join(k.lower() for k in SCHEMA_KINDS)
            raise UsageError(f'error: no schema for "{args.kind}" (supported: {supported})')
        document = load_schema(kind)
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return EXIT_VALID


def run_validate(args: argparse.Namespace) -> int:
    from reconciler.validate import validate_paths

    if args.paths.count("-") > 1:
        raise UsageError("error: standard input (-) may be given only once")
    report = validate_paths(args.paths, strict=args.strict)
    # a Secret this host keeps out of the folder (create secret generic) is not missing here
    problems = without_created_secrets(
        report.problems, find_state_dir(getattr(args, "state_dir", None))
    )
    if args.target == "kubernetes":
        from reconciler.cli.export import kubernetes_problems

        extra = kubernetes_problems(report)
        if args.strict:
            extra = [p.with_severity(Severity.ERROR) for p in extra]
        problems.extend(extra)
    WRITERS[args.output](report, problems, sys.stdout)
    return exit_code(report, problems)


def without_created_secrets(problems: Sequence[Problem], state_dir: Path) -> list[Problem]:
    """``problems`` without the ``secret-ref`` ones about Secrets that ``create secret
    generic`` made on this host (``STATE_DIR/secrets/NS/NAME.yaml``)."""
    from reconciler.cli.create_secret import secret_file

    out = []
    for problem in problems:
        found = _SECRET_REF.match(problem.message) if problem.rule == "secret-ref" else None
        if found and secret_file(state_dir, found["namespace"], found["name"]).is_file():
            continue
        out.append(problem)
    return out


_SECRET_REF = re.compile(r'secret "(?P<name>[^"]+)" not found: .* namespace "(?P<namespace>[^"]+)"')


def exit_code(report: Report, problems: list[Problem]) -> int:
    if report.unreadable:
        return EXIT_USAGE
    if any(p.severity is Severity.ERROR for p in problems):
        return EXIT_INVALID
    return EXIT_VALID


def summary(report: Report, problems: list[Problem]) -> dict[str, int]:
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return {
        "resources": report.resources,
        "files": len(report.files),
        "valid": len(report.objects),
        "invalid": report.invalid_resources,
        "errors": errors,
        "warnings": len(problems) - errors,
        "unreadable": len(report.unreadable),
    }


def summary_line(report: Report, problems: list[Problem]) -> str:
    """``Summary: 11 resources found in 4 files - Valid: 10, Invalid: 1, Errors: 2, ...``."""
    s = summary(report, problems)
    line = (
        f"Summary: {s['resources']} resources found in {s['files']} files - Valid: {s['valid']}, "
        f"Invalid: {s['invalid']}, Errors: {s['errors']}, Warnings: {s['warnings']}"
    )
    if s["unreadable"]:
        line += f", Unreadable files: {s['unreadable']}"
    return line


def write_text(report: Report, problems: list[Problem], out: TextIO) -> None:
    for problem in problems:
        out.write(problem.render() + "\n")
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


def write_json(report: Report, problems: list[Problem], out: TextIO) -> None:
    resources = [
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
    ] + [
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
    document = {
        "summary": {**summary(report, problems), "ok": exit_code(report, problems) == 0},
        "files": report.files,
        "unreadable": sorted(report.unreadable),
        "resources": resources,
        "problems": [_problem_json(p) for p in problems],
    }
    out.write(json.dumps(document, indent=2) + "\n")


def write_junit(report: Report, problems: list[Problem], out: TextIO) -> None:
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


def write_github(report: Report, problems: list[Problem], out: TextIO) -> None:
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
    out.write(summary_line(report, problems) + "\n")


WRITERS: dict[str, Callable[[Report, list[Problem], TextIO], None]] = {
    "text": write_text,
    "json": write_json,
    "junit": write_junit,
    "github": write_github,
}

__all__ = ["FORMATS", "TARGETS", "register", "run_schema", "run_validate"]
