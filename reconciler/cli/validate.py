"""``reconciler validate`` and ``reconciler schema``: the validator for CI, editors and hooks.

A pull request that breaks a manifest must fail with a message that points at the line, in the
shape the CI reads: plain text (``file:line:col: error: field: message (rule)``), JSON, JUnit
XML, GitHub workflow annotations, SARIF 2.1.0 (code scanning) or TAP. Exit codes, as kubeconform
and kubectl: 0 all valid, 1 some manifest invalid (a YAML syntax error included), 2 usage
errors, a missing path or a file that cannot be read.

Two targets: the default checks the folder the daemon will run (the local runtime's warnings
apply; kinds it does not run are validated and reported as ignored); ``--target
kubernetes[=VERSION]`` checks what a cluster of that version accepts and says nothing about the
local runtime. Warnings that repeat across files are one line per rule unless ``--verbose``.
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
    from reconciler.manifests.validate import Report

FORMATS = ("text", "json", "junit", "github", "sarif", "tap")
TARGETS = ("local", "kubernetes")
"""``local``: what this host runs. ``kubernetes[=VERSION]``: what a cluster accepts."""

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
READ_RULES = frozenset({"read"})
"""Load problems that mean the file could not be read at all (exit 2, not 1)."""


def _target(text: str) -> tuple[str, str | None]:
    name, _, version = text.partition("=")
    if name not in TARGETS or (version and name != "kubernetes"):
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose local or kubernetes[=VERSION], e.g. kubernetes=1.30)"
        )
    return name, version or None


def register(commands: Any, rollout: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="validate manifests (schemas, API-server rules, lint), for CI and pre-commit",
        description="Validate Kubernetes manifests: every kind against its schema (ours for "
        "Deployment and Service, with the API server's own rules and rules across objects; "
        "upstream for every other built-in kind; --schema-location for CRDs), deprecated and "
        "removed apiVersions, and with --lint best practices. Exit 0 when all are valid, 1 "
        "when any is invalid, 2 on usage errors, missing paths or unreadable files.",
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
        type=_target,
        default=("local", None),
        metavar="local|kubernetes[=VERSION]",
        help="local (default): the folder the daemon will run, with the local runtime's "
        "warnings; kubernetes[=1.NN]: what a cluster of that version accepts, no local-runtime "
        "finding",
    )
    validate.add_argument(
        "--kubernetes-version",
        metavar="1.NN",
        help="the Kubernetes version whose schemas and deprecations apply (default: the "
        "newest bundled; --target kubernetes=1.NN sets it too)",
    )
    validate.add_argument(
        "--schema-location",
        action="append",
        default=[],
        metavar="PATH",
        help="CRD schemas: a folder ({kind}_{version}.json, {group}/{kind}_{version}.json), a "
        "JSON schema file, a CRD manifest, or a path template with {{ .ResourceKind }}, "
        "{{ .ResourceAPIVersion }}, {{ .Group }}; repeatable",
    )
    validate.add_argument(
        "--ignore-missing-schemas",
        action="store_true",
        help="accept custom resources that no schema location describes",
    )
    validate.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="KIND[,KIND]",
        help="kinds (or apiVersion/Kind) not to validate; repeatable",
    )
    validate.add_argument(
        "--lint", action="store_true", help="also run the best-practice checks (--list-checks)"
    )
    validate.add_argument(
        "--list-checks", action="store_true", help="list the lint checks and exit"
    )
    validate.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list every warning, and every ignored resource, instead of one line per rule",
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
    from reconciler.manifests.schema import SCHEMA_KINDS, combined_schema, load_schema

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


def options_of(args: argparse.Namespace) -> Any:
    """The validator's ``Options`` from the command line (usage errors raised here)."""
    from reconciler.manifests.kindcheck import Options, Platform
    from reconciler.manifests.upstream import DEFAULT_VERSION, Locations, kubernetes_version

    platform, version = args.target
    if (
        version is not None
        and args.kubernetes_version is not None
        and kubernetes_version(version) != kubernetes_version(args.kubernetes_version)
    ):
        raise UsageError("error: --target kubernetes=VERSION and --kubernetes-version differ")
    given = version or args.kubernetes_version
    version = kubernetes_version(given) if given else DEFAULT_VERSION
    skip = frozenset(k.strip() for value in args.skip for k in value.split(",") if k.strip())
    locations = tuple(args.schema_location)
    return Options(
        platform=Platform(platform),
        version=version,
        schema_locations=locations,
        ignore_missing_schemas=args.ignore_missing_schemas,
        skip=skip,
        lint=args.lint,
        summarize=not args.verbose and args.output in ("text", "github"),
        locations=Locations(locations, version=version) if locations else None,
    )


def run_validate(args: argparse.Namespace) -> int:
    if args.list_checks:
        from reconciler.cli.validate_output import write_checks

        write_checks(sys.stdout, output=args.output)
        return EXIT_VALID
    from reconciler.manifests.validate import validate_paths

    if args.paths.count("-") > 1:
        raise UsageError("error: standard input (-) may be given only once")
    options = options_of(args)
    report = validate_paths(args.paths, strict=args.strict, options=options)
    # a Secret this host keeps out of the folder (create secret generic) is not missing here
    problems = without_created_secrets(
        report.problems, find_state_dir(getattr(args, "state_dir", None))
    )
    if args.target[0] == "kubernetes" and report.objects:
        extra = export_problems(report, version=options.version)
        if args.strict:
            extra = [p.with_severity(Severity.ERROR) for p in extra]
        problems.extend(extra)
    local = args.target[0] == "local"
    WRITERS[args.output](report, problems, sys.stdout, verbose=args.verbose, local=local)
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


def export_problems(report: Report, *, version: str) -> list[Problem]:
    """What ``export`` would change of the objects: only those that use a local extension.

    Translating costs a deep copy per object; an object that passes its upstream schema, has no
    ``$(VAR)`` reference and no relative ``workingDir`` goes to a cluster as it is, so only the
    others are translated (``tests/validate/test_targets.py`` pins that both agree).
    """
    from reconciler.cli.export import Located
    from reconciler.export import portability_problems
    from reconciler.manifests.kindcheck import upstream_valid

    def relative_dirs(obj: dict[str, Any]) -> bool:
        pod = (obj.get("spec") or {}).get("template", {}).get("spec") or {}
        containers = [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]
        return any(not str(c.get("workingDir", "/")).startswith("/") for c in containers)

    def as_is(obj: dict[str, Any], text: str) -> bool:
        return "$(" not in text and upstream_valid(obj, version) and not relative_dirs(obj)

    changed = [
        Located(o, o.document)
        for o in report.objects
        if o.document is None or not o.document.text or not as_is(o.obj, o.document.text)
    ]
    return portability_problems(changed) if changed else []


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

__all__ = ["FORMATS", "TARGETS", "register", "run_schema", "run_validate"]
