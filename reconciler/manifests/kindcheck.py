"""What one document is checked against, per target: the daemon's folder or a cluster.

Two targets, two meanings. The default (``local``) checks the folder the daemon will run: our
own stricter schemas and API-server rules for the kinds it runs, with the local runtime's
warnings (``no-command``, ``unsupported-field``, one listener per port); every other kind is
checked against its upstream schema and then *ignored* by the daemon, not refused, so a GitOps
repository written for a cluster can be pointed at ``reconciler run`` as it is.
``kubernetes[=VERSION]`` checks what a cluster of that version accepts, and says nothing about
the local runtime at all.

Per document, in order: ``apiVersion``/``kind`` present; ``--skip``; apiVersions deprecated or
removed at the target version (an error once removed, naming the replacement); then the schema:
ours (Deployment, Service), the bundled Kubernetes one, ``--schema-location``, the built-in
Rollout; none at all is a ``missing-schema`` error unless missing schemas are ignored.
"""

from __future__ import annotations

import difflib
import enum
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.configrules import check_configmap, check_secret
from reconciler.manifests.deprecations import Hit, find
from reconciler.manifests.envrules import check_env
from reconciler.manifests.rules import check_deployment, check_service
from reconciler.manifests.schema import SCHEMA_KINDS, Finding, SchemaChecker
from reconciler.manifests.upstream import (
    DEFAULT_VERSION,
    Locations,
    UpstreamSchema,
    builtin_schema,
    has_kind,
    kinds_of,
    split_api_version,
)
from reconciler.objects import API_VERSIONS, Kind

__all__ = [
    "DAEMON",
    "LOCAL_RULES",
    "Checked",
    "Disposition",
    "Options",
    "Platform",
    "check",
    "upstream_valid",
]


class Platform(enum.StrEnum):
    LOCAL = "local"
    KUBERNETES = "kubernetes"


class Disposition(enum.StrEnum):
    """What the daemon does with a document once it is valid."""

    RUN = "run"
    """A kind the daemon runs (it gets an ``ObjectRef`` and goes to the store)."""
    IGNORED = "ignored"
    """Validated against its schema; the daemon does not run this kind."""
    UNCHECKED = "unchecked"
    """No schema for it and missing schemas are ignored; the daemon does not run it either."""
    SKIPPED = "skipped"
    """``--skip``: not validated at all."""


LOCAL_RULES = frozenset({"unsupported-field", "no-command", "port-conflict"})
"""Rules about this host's runtime only: never reported for ``--target kubernetes``."""
LOCAL_WARNINGS = frozenset({"probe-port", "target-port", "no-selector"})
"""Rules whose *warnings* are about the local runtime (their errors hold on a cluster too)."""


@dataclass(frozen=True, slots=True)
class Options:
    """How to validate: the target, the schemas, what to skip, what else to check."""

    platform: Platform = Platform.LOCAL
    version: str = DEFAULT_VERSION
    """The Kubernetes minor version whose schemas and deprecations apply."""
    schema_locations: tuple[str, ...] = ()
    ignore_missing_schemas: bool = False
    skip: frozenset[str] = frozenset()
    """Kinds (``Ingress``) or ``apiVersion/Kind`` (``networking.k8s.io/v1/Ingress``) to skip."""
    lint: bool = False
    summarize: bool = False
    """Warnings of one rule in more than one resource: counted, only the first located."""
    locations: Locations | None = field(default=None, compare=False, repr=False)

    def local_finding(self, finding: Finding) -> bool:
        """Whether ``finding`` is about the local runtime and this target does not want it."""
        if self.platform is not Platform.KUBERNETES:
            return False
        return finding.rule in LOCAL_RULES or (
            finding.rule in LOCAL_WARNINGS and finding.severity is Severity.WARNING
        )


DAEMON = Options(ignore_missing_schemas=True)
"""The daemon's view: kinds without a schema (CRDs) are left alone, not refused."""

_KINDS = frozenset(str(kind) for kind in Kind)


def _deployment_rules(obj: Mapping[str, Any]) -> list[Finding]:
    pod_path = ("spec", "template", "spec")
    return [*check_deployment(obj), *check_env(obj["spec"]["template"]["spec"], pod_path)]


_RULES: dict[Kind, Callable[[Mapping[str, Any]], list[Finding]]] = {
    Kind.DEPLOYMENT: _deployment_rules,
    Kind.SERVICE: check_service,
    Kind.CONFIGMAP: check_configmap,
    Kind.SECRET: check_secret,
}
_SECRET_VALUES = ("data", "stringData")


@dataclass(frozen=True, slots=True)
class Checked:
    """The findings of one document and what becomes of it."""

    findings: list[Finding]
    passed_schema: bool
    disposition: Disposition


def check(obj: dict[str, Any], options: Options) -> Checked:
    """Every finding of one document on its own (cross-object rules come later)."""
    findings = _identity(obj)
    if findings:
        return Checked(findings, False, Disposition.RUN)
    api_version, kind = obj["apiVersion"], obj["kind"]
    if kind in options.skip or f"{api_version}/{kind}" in options.skip:
        return Checked([], True, Disposition.SKIPPED)
    hit = find(api_version, kind, options.version)
    if isinstance(hit, Hit):
        severity = Severity.ERROR if hit.severity == "error" else Severity.WARNING
        rule = "removed-api" if severity is Severity.ERROR else "deprecated-api"
        findings.append(Finding(("apiVersion",), hit.message, rule, severity))
        if severity is Severity.ERROR:
            return Checked(findings, False, _disposition(kind))
    own = Kind(kind) if kind in _KINDS else None
    if own in SCHEMA_KINDS:
        assert own is not None
        findings += _own(obj, own, options)
        return Checked(findings, not _errors(findings), Disposition.RUN)
    schema = _schema(api_version, kind, options)
    if schema is None:
        if options.ignore_missing_schemas and not _builtin_group(api_version):
            return Checked(findings, True, Disposition.UNCHECKED)
        findings.append(_missing(api_version, kind, options))
        return Checked(findings, False, Disposition.IGNORED)
    findings += _checker(schema).check(obj)
    return Checked(findings, not _errors(findings), Disposition.IGNORED)


def _disposition(kind: str) -> Disposition:
    return Disposition.RUN if kind in _KINDS and Kind(kind) in SCHEMA_KINDS else Disposition.IGNORED


def _errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def _identity(obj: dict[str, Any]) -> list[Finding]:
    """``apiVersion`` and ``kind`` as strings, or why not (nothing else is checked without)."""
    findings = []
    for key in ("apiVersion", "kind"):
        value = obj.get(key)
        if value is None:
            findings.append(Finding((key,), f"Required value: {key} not set", "kind", at=()))
        elif not isinstance(value, str) or not value:
            findings.append(
                Finding(
                    (key,),
                    f"Invalid value: {json.dumps(value, default=str)}: {key} must be a "
                    "non-empty string",
                    "kind",
                )
            )
    return findings


def _own(obj: dict[str, Any], kind: Kind, options: Options) -> list[Finding]:
    """Our schema, then the API server's rules, for the kinds the daemon runs."""
    expected = API_VERSIONS[kind]
    if obj["apiVersion"] != expected:
        return [
            Finding(
                ("apiVersion",),
                f"Unsupported value: {json.dumps(obj['apiVersion'], default=str)}: {kind} is "
                f"served as {expected}",
                "kind",
            )
        ]
    local = options.platform is not Platform.KUBERNETES
    findings = _own_checker(kind, local).check(obj)
    broken = [f.path for f in findings if f.severity is Severity.ERROR]
    # The API-server rules run even when the schema failed, so one CI run reports every error
    # (a typo such as `replica:` must not hide a selector that matches nothing). Their findings
    # inside a field the schema already rejected are dropped (one complaint per field), and a
    # rule that trips over a wrongly typed value is quiet: the schema error says what is wrong.
    try:
        rule = _RULES.get(kind)  # a kind with a schema of ours may have no rules (yet)
        rules = rule(obj) if rule is not None else []
    except Exception as exc:  # a rule that trips on odd input must not take the daemon down
        rules = (
            []
            if broken
            else [Finding((), f"internal error in a validation rule: {exc!r}", "internal")]
        )
    findings.extend(
        r for r in rules if not any(tuple(r.path[: len(b)]) == tuple(b) for b in broken)
    )
    if not local:
        findings = [f for f in findings if not options.local_finding(f)]
    if kind is Kind.SECRET:
        findings = [_without_value(f) for f in findings]
    return findings


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


def _schema(api_version: str, kind: str, options: Options) -> UpstreamSchema | None:
    found = builtin_schema(options.version, api_version, kind)
    if found is not None and found.key.startswith("rollout@") and options.locations is not None:
        return options.locations.find(api_version, kind) or found  # a CRD given wins
    if found is None and options.locations is not None:
        found = options.locations.find(api_version, kind)
    return found


def _builtin_group(api_version: str) -> bool:
    """A Kubernetes API group (``v1``, ``apps/v1``, ``*.k8s.io``): its kinds are all known, so
    a kind missing from it is a typo, never a custom resource to leave alone."""
    group = split_api_version(api_version)[0]
    return "." not in group or group.endswith(".k8s.io")


def _missing(api_version: str, kind: str, options: Options) -> Finding:
    served = has_kind(options.version, kind)
    if not served and _builtin_group(api_version):
        known = [*map(str, SCHEMA_KINDS), *kinds_of(options.version, api_version)]
        close = difflib.get_close_matches(kind, known, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        message = (
            f"Unsupported value: {json.dumps(kind)}: Kubernetes {options.version} has no kind "
            f"{kind} in {api_version}{hint}"
        )
        return Finding(("kind",), message, "kind")
    if served:
        message = (
            f"Unsupported value: {json.dumps(kind)}: Kubernetes {options.version} serves {kind} "
            f"as {', '.join(served)}, not {api_version}"
        )
        return Finding(("kind",), message, "kind")
    message = (
        f"no schema for {api_version} {kind}: it is not a Kubernetes {options.version} kind; "
        "give its CRD's schema with --schema-location, or pass --ignore-missing-schemas"
    )
    return Finding(("kind",), message, "missing-schema")


def upstream_valid(obj: dict[str, Any], version: str) -> bool:
    """Whether ``obj`` passes its kind's upstream Kubernetes schema (a yes/no, at native speed).

    Our own kinds have stricter schemas of their own, which also admit the local extensions
    (BlueGreen, Canary, autoRollback, fractional seconds); this tells which objects use none.
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return False
    schema = builtin_schema(version, api_version, kind)
    return schema is not None and _checker(schema).valid(obj)


@functools.cache
def _own_checker(kind: Kind, local: bool) -> SchemaChecker:
    return SchemaChecker(kind, local=local)


_CHECKERS: dict[str, SchemaChecker] = {}


def _checker(schema: UpstreamSchema) -> SchemaChecker:
    checker = _CHECKERS.get(schema.key)
    if checker is None:
        checker = _CHECKERS[schema.key] = SchemaChecker(schema=schema.schema, local=False)
    return checker
