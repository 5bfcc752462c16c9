"""A broken manifest is a state of its objects, not their absence (DESIGN decision 11).

When a file stops validating, or stops parsing at all (a YAML syntax error, bytes that are not
UTF-8), the objects it held keep running their last good revision. Every view says so:

- the daemon records, on each of those objects, ``status.invalid`` (the rendered problems, each
  naming file:line:column) and the condition ``ManifestValid`` False with reason
  ``InvalidManifest`` (next to Kubernetes' ``Available`` and ``Progressing``), plus an
  ``InvalidManifest`` Warning event; both go away once the file is fixed;
- ``get`` prints a warning line, ``rollout status`` fails with it, ``describe`` shows it;
- the verbs that edit a manifest say the file is broken, and where, instead of NotFound
  (``where_broken``): a YAML parser cannot find an object in a file it cannot read.

The status helpers are pure (dict in, dict out) so the daemon and the executor share them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.load import load_paths
from reconciler.objects import ObjectRef

__all__ = [
    "INVALID_MANIFEST",
    "MANIFEST_VALID",
    "BrokenFile",
    "broken_message",
    "carry_manifest_state",
    "mark_invalid",
    "mark_valid",
    "where_broken",
]

MANIFEST_VALID = "ManifestValid"  # condition type
INVALID_MANIFEST = "InvalidManifest"  # its reason, and the event's
INVALID_KEY = "invalid"  # status key: the rendered problems


def _summary(errors: Sequence[str]) -> str:
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{errors[0]}{more}; the last good revision keeps running"


def mark_invalid(status: Mapping[str, Any], errors: Sequence[str], *, now: float) -> dict[str, Any]:
    """``status`` with the problems and the ``ManifestValid`` False condition.

    >>> s = mark_invalid({}, ["m.yaml:3:5: error: YAML syntax error: x (yaml)"], now=1.0)
    >>> [(c["type"], c["status"], c["reason"]) for c in s["conditions"]]
    [('ManifestValid', 'False', 'InvalidManifest')]
    >>> mark_valid(s)
    {'conditions': []}
    """
    conditions = [dict(c) for c in status.get("conditions") or []]
    current = next((c for c in conditions if c.get("type") == MANIFEST_VALID), None)
    condition = {
        "type": MANIFEST_VALID,
        "status": "False",
        "reason": INVALID_MANIFEST,
        "message": _summary(errors) if errors else "the manifest is invalid",
        "lastUpdateTime": now,
        "lastTransitionTime": current["lastTransitionTime"] if current else now,
    }
    kept = [c for c in conditions if c.get("type") != MANIFEST_VALID]
    return {**status, INVALID_KEY: list(errors), "conditions": [*kept, condition]}


def mark_valid(status: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` without the problems and the ``ManifestValid`` condition."""
    out = {k: v for k, v in status.items() if k != INVALID_KEY}
    if "conditions" in out:
        out["conditions"] = [c for c in out["conditions"] if c.get("type") != MANIFEST_VALID]
    return out


def carry_manifest_state(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's ``new`` status with the manifest state of the ``current`` stored one.

    The engine plans from the status it read at the start of a pass; the daemon may have marked
    the manifest (in)valid since, and its word is the one to keep.
    """
    out = mark_valid(new)
    if INVALID_KEY in current:
        out[INVALID_KEY] = list(current[INVALID_KEY])
        mine = [c for c in current.get("conditions") or [] if c.get("type") == MANIFEST_VALID]
        out["conditions"] = [*out.get("conditions", []), *mine]
    return out


# -- the CLI: where is the file broken? -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokenFile:
    path: str  # as shown: relative to the working directory when inside it
    problem: str  # the first error, rendered (file:line:column: error: ...)
    holds: bool  # the store says the object came from this file (else: it may hold it)


def _shown(path: Path) -> str:
    try:
        return os.fspath(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)


def _first_error(path: Path) -> str | None:
    """The first error of a file that cannot be read or parsed, else None."""
    shown = _shown(path)
    result = load_paths([shown])
    if not result.unreadable:
        return None
    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    return errors[0].render() if errors else f"{shown}: cannot be read"


def where_broken(
    files: Sequence[Path], ref: ObjectRef, *, stored_source: str | None
) -> BrokenFile | None:
    """The broken file that holds (or, by its text, may hold) ``ref``, if any.

    ``stored_source`` is the file the store says the object came from; without it, a broken
    file whose text names the object (``name: web``) is the suspect.
    """
    if stored_source:
        source = Path(stored_source)
        if source.exists():
            problem = _first_error(source)
            if problem is not None:
                return BrokenFile(_shown(source), problem, holds=True)
    named = re.compile(rf"\bname:\s*['\"]?{re.escape(ref.name)}['\"]?\s*(#.*)?$", re.MULTILINE)
    for path in files:
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if not named.search(text):
            continue
        problem = _first_error(path)
        if problem is not None:
            return BrokenFile(_shown(path), problem, holds=False)
    return None


def broken_message(plural: str, ref: ObjectRef, broken: BrokenFile) -> str:
    """The editing verbs' refusal: the file is broken and where, not NotFound."""
    if broken.holds:
        return (
            f'error: {plural} "{ref.name}" cannot be edited: its manifest {broken.path} cannot '
            f"be parsed: {broken.problem}. Fix the file first (the last good revision keeps "
            "running)"
        )
    return (
        f'error: {plural} "{ref.name}" was not found in the folder, but {broken.path} cannot be '
        f"parsed and may hold it: {broken.problem}. Fix the file first"
    )
