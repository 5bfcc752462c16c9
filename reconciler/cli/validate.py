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
The output formats and the exit code are ``validate_formats`` (and ``validate_output``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.validate_formats import EXIT_VALID, WRITERS, exit_code
from reconciler.errors import Problem, Severity, UsageError
from reconciler.objects import parse_kind
from reconciler.paths import find_state_dir

if TYPE_CHECKING:
    from reconciler.manifests.validate import Report

FORMATS = ("text", "json", "junit", "github", "sarif", "tap")
TARGETS = ("local", "kubernetes")
"""``local``: what this host runs. ``kubernetes[=VERSION]``: what a cluster accepts."""


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
    if not changed:
        return []
    # the Services too: a canary's request weights depend on theirs (appProtocol: http); a
    # Service that goes as it is adds no warning of its own
    seen = {id(item.valid) for item in changed}
    services = [
        Located(o, o.document)
        for o in report.objects
        if o.obj.get("kind") == "Service" and id(o) not in seen
    ]
    return portability_problems([*changed, *services])


__all__ = ["FORMATS", "TARGETS", "register", "run_schema", "run_validate"]
