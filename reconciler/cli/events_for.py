"""``get events --for TYPE/NAME``: only the events about one object, as kubectl filters them.

kubectl turns ``--for pod/web-7d4b9-abcde`` into the field selector
``involvedObject.kind=Pod,involvedObject.name=web-7d4b9-abcde``: the events *on* that object,
which since events sit where Kubernetes puts them (``reconciler.events``) are the kubelet's for
a pod, the ReplicaSet controller's for a ReplicaSet, the deployment controller's for a
Deployment. ``get`` calls ``add_for_option`` and ``events_for``; the rest of ``get events`` is
``get``'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from reconciler.errors import UsageError
from reconciler.objects import ObjectRef, parse_kind
from reconciler.store import EventRow

__all__ = ["add_for_option", "events_for", "parse_for"]


def add_for_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--for",
        dest="for_object",
        metavar="TYPE/NAME",
        help="get events: only those about this object (e.g. pod/web-7d4b9-abcde)",
    )


def parse_for(text: str, namespace: str) -> ObjectRef:
    """``TYPE/NAME`` as kubectl reads ``--for`` (any spelling of the kind).

    >>> parse_for("deploy/web", "default").display
    'deployment.apps/web'
    """
    kind_word, slash, name = text.partition("/")
    if not slash or not kind_word or not name:
        raise UsageError(
            f"error: --for must be in resource/name form, got {text!r} (e.g. --for pod/web-1)"
        )
    return ObjectRef(parse_kind(kind_word), namespace, name)


def events_for(events: Sequence[EventRow], args: argparse.Namespace) -> list[EventRow]:
    """``events`` about ``args.for_object`` only (all of them without ``--for``)."""
    text = getattr(args, "for_object", None)
    if not text:
        return list(events)
    ref = parse_for(text, args.namespace)
    return [e for e in events if e.ref == ref]
