"""``reconciler diff [DIR]``: what the daemon would change, like ``kubectl diff``.

The folder (default: the one the daemon watches, else ``./manifests``) is validated exactly as
the daemon does, then each object's normalized form is compared with what runs: the applied
spec in the store, with the running revision's pod template where an autoRollback or an abort
keeps another revision running than the folder asks for (``folder.drift``). A unified diff
per changed object; objects that are only in the store shown as deleted.
Exit codes are kubectl's, Argo CD's and Flux's: 0 no differences, 1 differences, 2 errors
(invalid manifests or unreadable input), so CI can gate on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.cli.liveness import warn_if_stale
from reconciler.errors import ReconcilerError
from reconciler.folder.configsync import secrets_dir
from reconciler.folder.diff import mask_secrets, normalize, render
from reconciler.folder.drift import DriftReason, held_keys, running_spec, store_drift
from reconciler.folder.locate import DEFAULT_FOLDER, MANIFESTS_META
from reconciler.objects import API_VERSIONS, Kind, ObjectRef
from reconciler.paths import find_state_dir
from reconciler.store import DB_NAME, Store

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_ERROR = 2


def file_name(ref: ObjectRef) -> str:
    """kubectl diff's per-object file name: ``apps.v1.Deployment.default.web``."""
    group_version = API_VERSIONS[ref.kind].replace("/", ".")
    return f"{group_version}.{ref.kind}.{ref.namespace}.{ref.name}"


def object_diff(
    ref: ObjectRef, applied: Mapping[str, Any] | None, desired: Mapping[str, Any] | None
) -> str:
    """The diff of one object ("" when it has none), with kubectl diff's header lines."""
    old = normalize(applied) if applied is not None else None
    new = normalize(desired) if desired is not None else None
    if old == new:
        return ""
    if ref.kind is Kind.SECRET:
        old, new = mask_secrets(old, new)
    live, merged = f"LIVE/{file_name(ref)}", f"MERGED/{file_name(ref)}"
    body = render(old, new, old_label=live, new_label=merged)
    return f"diff -u -N {live} {merged}\n{body}" if body else ""


def _applied_specs(state_dir: Path) -> dict[ObjectRef, dict[str, Any]]:
    """What runs, per object: the applied spec, with the running revision's template where
    a rollback or an abort left another revision running than the one applied (drift.py)."""
    if not (state_dir / DB_NAME).exists():
        print(
            f"warning: no reconciler state at {state_dir}: nothing runs yet, every object is new",
            file=sys.stderr,
        )
        return {}
    with Store.open(state_dir) as store:
        warn_if_stale(store)
        held = held_keys(store)
        specs = {}
        for obj in store.list_objects():
            drift = store_drift(store, obj, held=held)
            if drift is not None and drift.reason in (DriftReason.ROLLED_BACK, DriftReason.ABORTED):
                print(f"warning: {drift.summary()}", file=sys.stderr)
            specs[obj.ref] = running_spec(obj, drift)
        return specs


def _folder(args: argparse.Namespace, state_dir: Path) -> Path:
    if args.dir:
        return Path(args.dir)
    if (state_dir / DB_NAME).exists():
        with Store.open(state_dir) as store:
            watched = store.get_meta(MANIFESTS_META)
        if watched:
            return Path(watched)
    return Path(DEFAULT_FOLDER)


def diff_folder(folder: Path, *, state_dir: Path) -> tuple[int, str]:
    """(exit code, diff text) for ``folder`` against the store of ``state_dir``."""
    from reconciler.manifests.validate import validate_paths  # the daemon's validator, shared

    if not folder.exists():
        raise ReconcilerError(f"error: the path {folder} does not exist")
    # with the Secrets `create secret generic` keeps in the state directory, as the daemon reads
    created = secrets_dir(state_dir)
    report = validate_paths([folder, created] if created.is_dir() else [folder])
    if not report.ok:
        rendered = "\n".join(p.render() for p in report.problems)
        raise ReconcilerError(rendered or f"error: cannot read {folder}")
    for problem in report.problems:  # warnings only, at this point
        print(problem.render(), file=sys.stderr)
    desired = {o.ref: dict(o.obj) for o in report.objects}
    applied = _applied_specs(state_dir)
    chunks = [
        object_diff(ref, applied.get(ref), desired.get(ref))
        for ref in sorted(set(desired) | set(applied))
    ]
    text = "".join(chunks)
    return (EXIT_DIFFERENT if text else EXIT_SAME), text


def run_diff(args: argparse.Namespace) -> int:
    state_dir = find_state_dir(args.state_dir)
    try:
        code, text = diff_folder(_folder(args, state_dir), state_dir=state_dir)
    except ReconcilerError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(text)
    return code


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "diff",
        help="diff the manifests folder against what is applied (exit 1 when they differ)",
        description="Show what would change if the daemon applied the folder: a unified diff "
        "per object, after defaults are applied to both sides. Exit 0: no differences, "
        "1: differences, 2: errors.",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="the manifests folder (default: the folder the daemon watches, else ./manifests)",
    )
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="state directory (default: $RECONCILER_STATE_DIR, else the nearest .reconciler/)",
    )
    parser.set_defaults(func=run_diff)
