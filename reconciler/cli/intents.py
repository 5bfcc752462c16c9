"""Runtime requests as intents: ``rollout promote [--full]|abort|retry|restart``, ``delete pod``.

These change no spec, so they are not file edits (DESIGN.md decision 2): the command writes a
row into the store and the daemon consumes it on its next pass. They are written even when no
daemon runs (a warning says the request waits), and they print kubectl's and the Argo Rollouts
plugin's words: ``rollout 'web' promoted``, ``deployment.apps/web restarted``,
``pod "web-5d8f-x2x7q" deleted``.

``promote`` and ``abort`` only make sense for strategies with a pause or steps (BlueGreen,
Canary); for RollingUpdate and Recreate they are refused with the command that does apply.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.describe import kubectl_not_found
from reconciler.engine.model import IntentAction
from reconciler.engine.serialize import rollout_of
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.store import AppliedObject, Store

__all__ = ["delete_pod", "register", "write_intent"]

DELETE_POD = IntentAction.DELETE_POD
_ROLLOUT_WORDS = frozenset({"rollout", "rollouts", "ro"})


def warn_if_no_daemon(store: Store) -> None:
    if store.daemon_pid() is None:
        print(
            f"warning: no reconciler daemon is running on {store.state_dir}; "
            "the request waits until one starts",
            file=sys.stderr,
        )


def write_intent(store: Store, ref: ObjectRef, action: str, args: dict[str, Any]) -> int:
    """Queue ``action`` for the daemon (warning on stderr when none runs); returns the id."""
    intent_id = store.add_intent(ref, action, args, now=time.time())
    warn_if_no_daemon(store)
    return intent_id


def _deployment_ref(word: str, namespace: str) -> ObjectRef:
    """``web``, ``deployment/web``, ``deploy/web`` or ``rollout/web``."""
    if "/" in word:
        kind_word, _, name = word.partition("/")
        if kind_word.lower().split(".", 1)[0] not in _ROLLOUT_WORDS:
            kind = parse_kind(kind_word)
            if kind is not Kind.DEPLOYMENT:
                raise UsageError(f"error: {kind_word} is not a deployment")
    else:
        name = word
    if not name:
        raise UsageError("error: resource name may not be empty")
    return ObjectRef(Kind.DEPLOYMENT, namespace, name)


def _deployment(store: Store, ref: ObjectRef) -> AppliedObject:
    obj = store.get_object(ref)
    if obj is None:
        raise NotFoundError(
            f'Error from server (NotFound): deployments.apps "{ref.name}" not found'
        )
    return obj


def _strategy(obj: AppliedObject) -> tuple[str, dict[str, Any]]:
    strategy = obj.spec["spec"].get("strategy") or {}
    kind = str(strategy.get("type", "RollingUpdate"))
    return kind, dict(
        strategy.get({"Canary": "canary", "BlueGreen": "blueGreen"}.get(kind, "")) or {}
    )


def _refuse(obj: AppliedObject, verb: str, *, need_steps: bool) -> None:
    kind, details = _strategy(obj)
    name = obj.ref.name
    if kind in ("RollingUpdate", "Recreate"):
        hint = " (use 'rollout pause' / 'rollout resume' or 'rollout undo')"
        raise ReconcilerError(
            f'error: deployment "{name}" uses the {kind} strategy, which has no steps to '
            f"{verb}; {verb} applies to BlueGreen and Canary deployments{hint}"
        )
    if need_steps and kind == "Canary" and not details.get("steps"):
        raise ReconcilerError(
            f'error: deployment "{name}" is a Canary without steps (it rolls like '
            f"RollingUpdate); there is nothing to {verb}"
        )


@kubectl_not_found
def _promote(args: argparse.Namespace) -> int:
    with open_store(args, reading=False) as store:
        ref = _deployment_ref(args.name, args.namespace)
        _refuse(_deployment(store, ref), "promote", need_steps=True)
        write_intent(store, ref, IntentAction.PROMOTE, {"full": bool(args.full)})
    print(f"rollout '{ref.name}' {'fully promoted' if args.full else 'promoted'}")
    return 0


@kubectl_not_found
def _abort(args: argparse.Namespace) -> int:
    with open_store(args, reading=False) as store:
        ref = _deployment_ref(args.name, args.namespace)
        _refuse(_deployment(store, ref), "abort", need_steps=False)
        write_intent(store, ref, IntentAction.ABORT, {})
    print(f"rollout '{ref.name}' aborted")
    return 0


@kubectl_not_found
def _retry(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if len(words) == 2 and words[0].lower() in _ROLLOUT_WORDS:
        words = words[1:]  # "retry rollout NAME" (the Argo plugin's form)
    if len(words) != 1:
        raise UsageError("error: expected one rollout name: retry rollout NAME")
    with open_store(args, reading=False) as store:
        ref = _deployment_ref(words[0], args.namespace)
        _refuse(_deployment(store, ref), "retry", need_steps=False)
        write_intent(store, ref, IntentAction.RETRY, {})
    print(f"rollout '{ref.name}' retried")
    return 0


@kubectl_not_found
def _restart(args: argparse.Namespace) -> int:
    words: list[str] = list(args.resource)
    if len(words) >= 2 and "/" not in words[0]:
        if parse_kind(words[0]) is not Kind.DEPLOYMENT:
            raise UsageError(f"error: {words[0]} cannot be restarted")
        words = words[1:]  # "rollout restart deployment web"
    refs = [_deployment_ref(word, args.namespace) for word in words]
    with open_store(args, reading=False) as store:
        now = time.time()
        for ref in refs:
            obj = _deployment(store, ref)
            if _restarted_within_a_second(store, obj, now=now):
                raise ReconcilerError(
                    "error: failed to patch: if restart has already been triggered within the "
                    "past second, please wait before attempting to trigger another"
                )
        for ref in refs:
            store.add_intent(ref, IntentAction.RESTART, {"at": now}, now=now)
        warn_if_no_daemon(store)
    for ref in refs:
        print(f"{ref.display} restarted")
    return 0


def _restarted_within_a_second(store: Store, obj: AppliedObject, *, now: float) -> bool:
    """kubectl refuses a second restart within a second (its restartedAt has 1 s resolution)."""
    times = [
        float(i.args.get("at", i.created_at))
        for i in store.pending_intents()
        if i.ref == obj.ref and i.action == IntentAction.RESTART
    ]
    restarted = rollout_of(obj.status).restarted_at
    if restarted is not None:
        times.append(restarted)
    return any(0 <= now - at < 1.0 for at in times)


def delete_pod(args: argparse.Namespace, ref: ObjectRef) -> int:
    """``delete pod NAME``: a ``delete-pod`` intent; its ReplicaSet then replaces the pod."""
    with open_store(args, reading=False) as store:
        names = {p.name for p in store.list_pods(ref.namespace)}
        if ref.name not in names:
            if getattr(args, "ignore_not_found", False):
                return 0
            print(f'Error from server (NotFound): pods "{ref.name}" not found', file=sys.stderr)
            return 1
        write_intent(store, ref, DELETE_POD, {})
    print(f'pod "{ref.name}" deleted')
    return 0


def register(commands: Any, rollout: Any) -> None:
    from reconciler.cli.delete import register_deleter

    register_deleter(Kind.POD, delete_pod)
    parent = common_options()

    promote = rollout.add_parser(
        "promote",
        parents=[parent],
        help="promote a paused BlueGreen or Canary rollout (next step, or --full)",
    )
    promote.add_argument("name", metavar="NAME")
    promote.add_argument(
        "--full", action="store_true", help="skip the remaining steps, analysis and pauses"
    )
    promote.set_defaults(func=_promote)

    abort = rollout.add_parser(
        "abort",
        parents=[parent],
        help="abort a BlueGreen or Canary rollout: traffic and replicas go back to stable",
    )
    abort.add_argument("name", metavar="NAME")
    abort.set_defaults(func=_abort)

    for where in (rollout, commands):
        retry = where.add_parser(
            "retry",
            parents=[parent],
            help="retry an aborted rollout (also: retry rollout NAME)",
        )
        retry.add_argument("words", nargs="+", metavar="[rollout] NAME")
        retry.set_defaults(func=_retry)

    restart = rollout.add_parser(
        "restart",
        parents=[parent],
        help="replace the pods of a deployment under its strategy (no new revision)",
    )
    restart.add_argument("resource", nargs="+", metavar="deployment/NAME")
    restart.set_defaults(func=_restart)
