"""``reconciler rollout status deployment/NAME``: kubectl's status viewer, polling the store.

kubectl watches the Deployment and prints its status viewer's message on every change
(semantics §2.3); here the store is polled (every 0.2 s) and a line is printed whenever the
message changes, so it works the same whether the daemon runs or not. Differences a user asked
for (issue 5 §4, issue 6 §4):

* fail fast: a ``ReplicaFailure`` condition (a new pod in ``ImagePullBackOff`` or
  ``CrashLoopBackOff``), or a new pod waiting in ``CrashLoopBackOff`` (from its first
  back-off), ends the wait with exit 1 and the pod's reason, instead of waiting for the
  progress deadline; a crashing pod is reported at once while waiting (``crashing.py``);
  ``--wait-for-deadline`` keeps kubectl's behaviour and waits through all of it;
* a Degraded rollout (autoRollback, an aborted canary or blue-green) ends with exit 1;
* BlueGreen and Canary print their step, weight and pause reasons; ``--until-paused`` ends with
  exit 0 once the rollout waits at a pause (for CI scripts that then run checks and promote).

``status_message`` is the pure part: one status in, one verdict out.
"""

from __future__ import annotations

import argparse
import enum
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.crashing import crash_loop, crash_notes
from reconciler.cli.describe import kubectl_not_found
from reconciler.cli.views import revision_of
from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import Phase, RolloutState
from reconciler.errors import NotFoundError, ReconcilerError, Severity, UsageError
from reconciler.folder.drift import store_drift
from reconciler.folder.locate import display_path
from reconciler.manifests.load import load_text, read_regular_file
from reconciler.manifests.validate import digest_of
from reconciler.objects import Kind, ObjectRef, parse_resource
from reconciler.runtime import PodStatus
from reconciler.store import AppliedObject, ReplicaSetRow, Store
from reconciler.store.records import pod_from_dict
from reconciler.units import parse_duration

__all__ = ["Verdict", "VerdictKind", "register", "rollout_status", "status_message"]

POLL_INTERVAL = 0.2


class VerdictKind(enum.StrEnum):
    WAITING = "waiting"
    PAUSED = "paused"  # waiting at a pause (a step, BlueGreenPause, or spec.paused)
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    message: str  # the line to print (without "error: " for failures)


def _condition(conditions: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def _strategy_line(
    name: str, spec: Mapping[str, Any], status: Mapping[str, Any], rollout: RolloutState
) -> str | None:
    """The BlueGreen/Canary progress message while the new revision is not promoted yet."""
    strategy = spec.get("strategy", {})
    kind = strategy.get("type")
    current = rollout.current_pod_hash
    reasons = rollout.pause_reasons
    paused = f", paused ({', '.join(reasons)})" if reasons else ""
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if kind == "Canary":
        steps = (strategy.get("canary") or {}).get("steps") or []
        index = rollout.current_step_index
        if not steps or not rollout.updating or index >= len(steps):
            return None
        weight = rollout.set_weight or 0
        # Argo's Step is currentStepIndex/len(steps): steps completed (`get rollout` says the same)
        return f"{prefix}canary step {index}/{len(steps)} (setWeight {weight}){paused}..."
    if kind == "BlueGreen":
        if not current or rollout.active_selector == current:
            return None
        if reasons:
            return f"{prefix}preview is ready, active service cutover pending{paused}..."
        return f"{prefix}active service cutover pending..."
    return None


def status_message(
    obj: AppliedObject,
    rows: Sequence[ReplicaSetRow],
    *,
    revision: int = 0,
    wait_for_deadline: bool = False,
    pods: Sequence[PodStatus] = (),
) -> Verdict:
    """kubectl's DeploymentStatusViewer (§2.3), with fail-fast and strategy lines.

    ``pods`` are the pods of the revision being rolled out: one waiting in CrashLoopBackOff
    fails the wait at once (``crashing.py``) unless ``wait_for_deadline``.
    """
    name = obj.ref.name
    spec, status = obj.spec["spec"], obj.status
    rollout = rollout_of(status)
    if revision > 0:
        running = revision_of(list(rows), rollout.current_pod_hash) or 0
        if running != revision:
            raise ReconcilerError(
                f"error: desired revision ({revision}) is different from the running "
                f"revision ({running})"
            )
    if obj.generation > int(status.get("observedGeneration", 0) or 0):
        return Verdict(VerdictKind.WAITING, "Waiting for deployment spec update to be observed...")
    conditions = status.get("conditions") or []
    progressing = _condition(conditions, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Verdict(VerdictKind.FAILED, f'deployment "{name}" exceeded its progress deadline')
    failure = _condition(conditions, "ReplicaFailure")
    if failure and failure.get("status") == "True" and not wait_for_deadline:
        detail = failure.get("message") or failure.get("reason") or "replica failure"
        return Verdict(VerdictKind.FAILED, f'deployment "{name}" rollout failed: {detail}')
    crash = None if wait_for_deadline else crash_loop(pods)
    if crash is not None:
        return Verdict(VerdictKind.FAILED, f'deployment "{name}" rollout failed: {crash}')
    # Degraded by a failing pod alone is what --wait-for-deadline waits through (kubectl
    # waits for the deadline); an abort or a rollback has ended the rollout either way.
    ended = (
        rollout.aborted
        or bool(rollout.failed_template_hash)
        or (progressing is not None and progressing.get("reason") == "RolloutAborted")
    )
    if rollout.phase is Phase.DEGRADED and (ended or not wait_for_deadline):
        detail = rollout.message or "Degraded"
        what = "rollout aborted" if rollout.aborted else "rollout failed"
        return Verdict(VerdictKind.FAILED, f'deployment "{name}" {what}: {detail}')
    paused = rollout.paused or bool(spec.get("paused"))
    kind = VerdictKind.PAUSED if paused else VerdictKind.WAITING
    line = _strategy_line(name, spec, status, rollout)
    if line is not None:
        return Verdict(kind, line)
    replicas = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0) or 0)
    total = int(status.get("replicas", 0) or 0)
    available = int(status.get("availableReplicas", 0) or 0)
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return Verdict(
            kind, f"{prefix}{updated} out of {replicas} new replicas have been updated..."
        )
    if total > updated:
        return Verdict(kind, f"{prefix}{total - updated} old replicas are pending termination...")
    if available < updated:
        return Verdict(kind, f"{prefix}{available} of {updated} updated replicas are available...")
    return Verdict(VerdictKind.DONE, f'deployment "{name}" successfully rolled out')


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "t"):
        return True
    if lowered in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value: {text!r}")


def _ref(words: list[str], namespace: str) -> ObjectRef:
    ref = parse_resource(words, namespace=namespace, default_kind=Kind.DEPLOYMENT)
    if ref.kind is not Kind.DEPLOYMENT:
        raise UsageError(f'error: no status viewer has been implemented for "{ref.kind}"')
    return ref


def _file_is_ahead(obj: AppliedObject) -> bool:
    """The manifest file already says something the daemon has not applied yet.

    kubectl's first message, "Waiting for deployment spec update to be observed...", is about
    the controller catching up with the API server; here the file is the API, so a ``set image``
    followed at once by ``rollout status`` must wait for the daemon to see the edit instead of
    reporting the previous revision as rolled out.
    """
    data = read_regular_file(obj.source)
    if data is None:
        return False
    loaded = load_text(data, source=display_path(Path(obj.source)))
    for document in loaded.documents:
        body = document.obj
        metadata = body.get("metadata") or {}
        if (
            body.get("kind") == obj.ref.kind
            and metadata.get("name") == obj.ref.name
            and (metadata.get("namespace") or "default") == obj.ref.namespace
        ):
            return digest_of(body) != obj.digest
    if loaded.unreadable:
        # the daemon may not have seen it yet: the file is broken now, whatever status says
        errors = [p.render() for p in loaded.problems if p.severity is Severity.ERROR]
        raise ReconcilerError(_invalid_message(obj.ref.name, errors or ["cannot be parsed"]))
    return False  # gone from the file: the daemon prunes it, status reports the deletion


def _invalid_message(name: str, errors: Sequence[str]) -> str:
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return (
        f'error: the manifest of deployment "{name}" is invalid, the last good revision keeps '
        f"running: {errors[0]}{more}"
    )


def _new_pods(store: Store, obj: AppliedObject, rows: Sequence[ReplicaSetRow]) -> list[PodStatus]:
    """The pods of the revision being rolled out (the template's ReplicaSet)."""
    current = rollout_of(obj.status).current_pod_hash
    rs = next((r for r in rows if current and r.hash == current), None)
    if rs is None:
        return []
    return [pod_from_dict(r.status) for r in store.list_pods(obj.ref.namespace, owner=rs.name)]


@kubectl_not_found
def rollout_status(args: argparse.Namespace) -> int:
    ref = _ref(args.resource, args.namespace)
    try:
        timeout = parse_duration(args.timeout) if args.timeout not in (None, "", "0") else 0.0
    except ValueError as exc:
        raise UsageError(f"error: invalid argument {args.timeout!r} for --timeout: {exc}") from None
    deadline = time.monotonic() + timeout if timeout else None
    last: str | None = None
    seen = False
    noted: set[str] = set()
    with open_store(args) as store:
        while True:
            obj = store.get_object(ref)
            if obj is None:
                if seen:
                    raise ReconcilerError("error: object has been deleted")
                raise NotFoundError(
                    f'Error from server (NotFound): deployments.apps "{ref.name}" not found'
                )
            seen = True
            invalid = obj.status.get("invalid")
            if invalid:
                raise ReconcilerError(_invalid_message(ref.name, invalid))
            if _file_is_ahead(obj):
                verdict = Verdict(
                    VerdictKind.WAITING, "Waiting for deployment spec update to be observed..."
                )
            else:
                rows = store.list_replicasets(ref)
                pods = _new_pods(store, obj, rows)
                for note in crash_notes(pods):
                    if note not in noted:
                        noted.add(note)
                        print(note, flush=True)
                verdict = status_message(
                    obj,
                    rows,
                    revision=args.revision,
                    wait_for_deadline=args.wait_for_deadline,
                    pods=pods,
                )
            if verdict.kind is VerdictKind.FAILED:
                # which revision runs, which the folder asks for, and the command (drift.py)
                drift = store_drift(store, obj)
                extra = f"\n{drift.summary()}" if drift is not None else ""
                raise ReconcilerError(f"error: {verdict.message}{extra}")
            if verdict.kind is VerdictKind.DONE:
                drift = store_drift(store, obj)
                if drift is not None:  # e.g. its file is gone and the prune guard holds it
                    print(f"warning: {drift.summary()}", file=sys.stderr)
            if verdict.message != last:
                print(verdict.message, flush=True)
                last = verdict.message
            if verdict.kind is VerdictKind.DONE or not args.watch:
                return 0
            if verdict.kind is VerdictKind.PAUSED and args.until_paused:
                return 0
            if deadline is not None and time.monotonic() >= deadline:
                raise ReconcilerError("error: timed out waiting for the condition")
            pause = args.poll_interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)


def register(commands: Any, rollout: Any) -> None:
    parser = rollout.add_parser(
        "status",
        parents=[common_options()],
        help="show the status of the rollout (waits until it completes)",
    )
    parser.add_argument("resource", nargs="+", metavar="deployment/NAME")
    parser.add_argument(
        "-w",
        "--watch",
        type=_parse_bool,
        nargs="?",
        const=True,
        default=True,
        help="watch the status until the rollout ends (--watch=false prints it once)",
    )
    parser.add_argument(
        "--timeout", default="0", help="give up after this long (e.g. 5m; 0 waits forever)"
    )
    parser.add_argument("--revision", type=int, default=0, help="pin to a revision (0: the latest)")
    parser.add_argument(
        "--until-paused",
        action="store_true",
        help="exit 0 once a BlueGreen or Canary rollout waits at a pause",
    )
    parser.add_argument(
        "--wait-for-deadline",
        action="store_true",
        help="do not fail fast on ImagePullBackOff/CrashLoopBackOff; wait for the deadline",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=POLL_INTERVAL, help=argparse.SUPPRESS
    )
    parser.set_defaults(func=rollout_status)
