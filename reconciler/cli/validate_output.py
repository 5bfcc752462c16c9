"""SARIF and TAP output of ``reconciler validate``, and the catalogue of its rule ids.

SARIF 2.1.0 is what GitHub code scanning (and most CI dashboards) read: one run, the tool's rule
metadata (id, description, default level, help), and one result per problem with its file and
region, so an alert sits on the offending line of the pull request. TAP is kubeconform's other
machine format: one test point per resource, ``not ok`` with the problems as YAML diagnostics.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from reconciler import __version__
from reconciler.errors import Problem, Severity

if TYPE_CHECKING:
    from reconciler.manifests.validate import Report

__all__ = ["RULES", "rule_help", "write_checks", "write_sarif", "write_tap"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://github.com/reconciler/reconciler#validating-in-ci"

RULES: dict[str, str] = {
    "yaml": "the file is not valid YAML",
    "tab": "a tab indents YAML",
    "encoding": "the file is not UTF-8 text",
    "read": "the file cannot be read",
    "size-limit": "the file is larger than a manifest can be",
    "alias-limit": "YAML alias expansion is too large (a 'billion laughs' document?)",
    "depth-limit": "YAML nesting is too deep",
    "duplicate-key": "a mapping key is written twice (YAML keeps only the last)",
    "not-a-mapping": "a document is not an object",
    "kind": "apiVersion or kind missing, unknown or not served together",
    "missing-schema": "no schema for a custom resource (--schema-location)",
    "removed-api": "the apiVersion was removed at the target Kubernetes version",
    "deprecated-api": "the apiVersion is deprecated at the target Kubernetes version",
    "schema": "a value does not match the kind's schema",
    "unknown-field": "a field the kind does not have (a typo?)",
    "unsupported-field": "a field the local runtime does not use",
    "no-command": "a container without command, which the local process runtime needs",
    "name": "an invalid object, container or port name",
    "labels": "invalid labels",
    "selector": "a selector that does not match the pod template, or is invalid",
    "strategy": "an invalid rollout strategy",
    "template": "an invalid pod template",
    "ports": "invalid container ports",
    "port": "an invalid port",
    "percent": "an invalid percentage",
    "progress-deadline": "progressDeadlineSeconds not greater than minReadySeconds",
    "max-surge-unavailable": "maxSurge and maxUnavailable both zero",
    "duplicate-name": "two containers or ports with the same name",
    "probe": "an invalid probe",
    "probe-port": "a probe port that no container port declares",
    "target-port": "a Service targetPort that the selected pods do not declare",
    "service-port": "invalid Service ports",
    "no-selector": "a Service without a selector",
    "canary-step": "an invalid canary step",
    "analysis": "an invalid analysis",
    "duplicate-object": "the same kind, namespace and name defined twice",
    "strategy-service": "a BlueGreen/Canary Service missing or not selecting the pods",
    "port-conflict": "two Services on one host port (local runtime)",
    "selects-nothing": "a Service selecting no Deployment's pods",
    "kubernetes": "a local extension that changes meaning on a cluster",
    "internal": "a validation rule failed",
}


def rule_help(rule: str) -> tuple[str, str]:
    """(short description, help text) of a rule id, lint checks included."""
    from reconciler.manifests.lint import CHECKS

    for check in CHECKS:
        if check.id == rule:
            return check.summary, f"{check.summary}: {check.remedy} (lint; silence with the "
            f"annotation reconciler.dev/ignore: {check.id})"
    text = RULES.get(rule, rule.replace("-", " "))
    return text, text


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def _camel(rule: str) -> str:
    return "".join(part.capitalize() for part in rule.split("-"))


def sarif_document(report: Report, problems: list[Problem]) -> dict[str, Any]:
    """The SARIF 2.1.0 log of one validation run."""
    order: dict[str, int] = {}
    levels: dict[str, str] = {}
    for problem in problems:
        order.setdefault(problem.rule, len(order))
        if problem.severity is Severity.ERROR:
            levels[problem.rule] = "error"
        else:
            levels.setdefault(problem.rule, "warning")
    rules = []
    for rule in order:
        short, full = rule_help(rule)
        rules.append(
            {
                "id": rule,
                "name": _camel(rule),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "helpUri": HELP_URI,
                "help": {"text": full},
                "defaultConfiguration": {"level": levels[rule]},
            }
        )
    results = []
    for problem in problems:
        field = f"{problem.field}: " if problem.field else ""
        results.append(
            {
                "ruleId": problem.rule,
                "ruleIndex": order[problem.rule],
                "level": _level(problem.severity),
                "message": {"text": f"{field}{problem.message}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": problem.file, "uriBaseId": "%SRCROOT%"},
                            "region": {
                                "startLine": max(problem.line, 1),
                                "startColumn": max(problem.column, 1),
                            },
                        }
                    }
                ],
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reconciler validate",
                        "version": __version__,
                        "informationUri": HELP_URI,
                        "rules": rules,
                    }
                },
                "artifacts": [
                    {"location": {"uri": name, "uriBaseId": "%SRCROOT%"}}
                    for name in report.files
                    if name != "<stdin>"
                ],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def write_sarif(report: Report, problems: list[Problem], out: TextIO) -> None:
    out.write(json.dumps(sarif_document(report, problems), indent=2) + "\n")


def write_tap(report: Report, problems: list[Problem], out: TextIO) -> None:
    """TAP 13: a test point per resource (and per problem that belongs to none)."""
    points: list[tuple[bool, str, list[Problem]]] = []
    owned: set[Problem] = set()
    for ref, found in report.invalid.items():
        points.append((False, f"{found[0].file if found else ''} - {ref.display}", found))
        owned.update(found)
    for obj in report.objects:
        points.append((True, f"{obj.source} - {obj.ref.display}", []))
    for item in report.ignored:
        points.append((True, f"{item.source} - {item.kind} {item.name} # SKIP not run", []))
    for problem in problems:
        if problem not in owned and problem.severity is Severity.ERROR:
            points.append((False, f"{problem.file}:{problem.line}", [problem]))
    warnings = [p for p in problems if p.severity is not Severity.ERROR and p not in owned]
    out.write("TAP version 13\n")
    out.write(f"1..{len(points)}\n")
    for number, (ok, name, found) in enumerate(points, start=1):
        out.write(f"{'ok' if ok else 'not ok'} {number} - {name}\n")
        if found:
            out.write("  ---\n  problems:\n")
            for problem in found:
                out.write(f"    - {json.dumps(problem.render())}\n")
            out.write("  ...\n")
    for problem in warnings:
        out.write(f"# {problem.render()}\n")
    for summary in report.summarized:
        out.write(f"# warning: {summary.rule}: {summary.count} times in {summary.files} files\n")


def write_checks(out: TextIO, *, output: str) -> None:
    """``validate --list-checks``: the lint checks, their ids and what to do."""
    from reconciler.manifests.lint import CHECKS

    if output == "json":
        rows = [{"id": c.id, "summary": c.summary, "remedy": c.remedy} for c in CHECKS]
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    width = max(len(check.id) for check in CHECKS)
    out.write(f"{'ID':<{width}}  DESCRIPTION\n")
    for check in CHECKS:
        out.write(f"{check.id:<{width}}  {check.summary}; {check.remedy}\n")
    out.write(
        "\nRun with --lint (warnings; errors with --strict). Silence a check for one object "
        "with the annotation reconciler.dev/ignore: ID[,ID].\n"
    )
