"""``reconciler get``: kubectl's ``get``, read from the store (works while the daemon is stopped).

``get TYPE[,TYPE...] [NAME...]``, ``get TYPE/NAME [TYPE/NAME...]``, ``get all``; types are
``pods``, ``services``, ``deployments``, ``replicasets``, ``endpoints``, ``endpointslices``,
``namespaces``, ``configmaps``, ``secrets`` (and kubectl's short names), ``events``, and
``rollout NAME`` (the Argo plugin's tree, in ``rollout_tree.py``). Flags: ``-l`` (the full
selector grammar, ``reconciler.labels``), ``--field-selector``, ``-A``, ``--show-labels``,
``-L``, ``--no-headers``, ``--sort-by``, ``-o wide|name|json|yaml|jsonpath=|jsonpath-file=|
custom-columns=|custom-columns-file=|go-template=|go-template-file=``, ``-w``. The rows and
objects come from ``listing.py``, the printers from ``printers.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import labels
from reconciler.cli import fields, output
from reconciler.cli.common import common_options, open_store
from reconciler.cli.drift_view import warn_drift
from reconciler.cli.events_for import add_for_option, events_for
from reconciler.cli.getwatch import GetPrinter, watch
from reconciler.cli.listing import ALIASES, ALL, RESOURCES, Item, Resource, Snapshot, collect
from reconciler.cli.printers import parse_output, sort_items
from reconciler.errors import NotFoundError, ReconcilerError
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

Row = list[str]
Request = tuple[Resource, list[str]]

_KIND_RESOURCE = {
    Kind.DEPLOYMENT: "deployments",
    Kind.REPLICASET: "replicasets",
    Kind.POD: "pods",
    Kind.SERVICE: "services",
    Kind.CONFIGMAP: "configmaps",
    Kind.SECRET: "secrets",
}
_NOT_FOUND = {kind: RESOURCES[plural].not_found for kind, plural in _KIND_RESOURCE.items()}


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "get", parents=[common_options()], help="display one or many resources"
    )
    parser.add_argument(
        "type",
        help="TYPE[,TYPE...] or TYPE/NAME: pods, services, deployments, replicasets, endpoints, "
        "endpointslices, namespaces, configmaps, secrets, events, rollout, all",
    )
    parser.add_argument("names", nargs="*", help="names, or more TYPE/NAME (optional)")
    parser.add_argument(
        "-o",
        "--output",
        help="wide|name|json|yaml|jsonpath=...|jsonpath-file=...|custom-columns=...|"
        "custom-columns-file=...|go-template=...|go-template-file=...",
    )
    parser.add_argument("--template", help="the template of -o jsonpath|go-template")
    parser.add_argument("-w", "--watch", action="store_true", help="watch for changes")
    parser.add_argument("-l", "--selector", help="label selector (=, ==, !=, in, notin, !key)")
    parser.add_argument("--field-selector", help="field selector (metadata.name=x, ...)")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list across all namespaces"
    )
    parser.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    parser.add_argument(
        "-L", "--label-columns", action="append", default=[], help="a column per label key"
    )
    parser.add_argument("--no-headers", action="store_true", help="omit the header row")
    parser.add_argument("--show-kind", action="store_true", help="TYPE/NAME in the NAME column")
    parser.add_argument("--sort-by", help="sort by a JSONPath expression (.metadata.name)")
    parser.add_argument(
        "--ignore-not-found", action="store_true", help="no error for names that do not exist"
    )
    parser.add_argument("--no-color", action="store_true", help="plain output (always plain)")
    add_for_option(parser)
    parser.set_defaults(func=get)


def _resource(word: str) -> Resource:
    base = word.lower().split(".", 1)[0]
    plural = ALIASES.get(base)
    if plural is None:
        raise ReconcilerError(f'error: the server doesn\'t have a resource type "{word}"')
    return RESOURCES[plural]


def requests(type_arg: str, names: Sequence[str]) -> tuple[list[Request], bool]:
    """What was asked for, per resource type, and whether one object was (``single``)."""
    words = [type_arg, *names]
    if any("/" in w for w in words):
        if "/" not in type_arg:
            raise ReconcilerError(
                "error: there is no need to specify a resource type as a separate argument "
                "when passing arguments in resource/name form (e.g. 'kubectl get "
                "resource/<resource_name>' instead of 'kubectl get resource "
                "resource/<resource_name>'"
            )
        grouped: dict[str, Request] = {}
        for word in words:
            kind_word, slash, name = word.partition("/")
            if not slash or not name:
                raise ReconcilerError(
                    "error: arguments in resource/name form must have a single resource and name"
                )
            resource = _resource(kind_word)
            grouped.setdefault(resource.plural, (resource, []))[1].append(name)
        return list(grouped.values()), len(words) == 1
    plurals: list[str] = []
    for word in type_arg.split(","):
        for plural in ALL if word.lower() == "all" else (_resource(word).plural,):
            if plural not in plurals:
                plurals.append(plural)
    reqs = [(RESOURCES[p], list(names)) for p in plurals]
    return reqs, len(reqs) == 1 and len(names) == 1


def get(args: argparse.Namespace) -> int:
    word = args.type.lower()
    if word in ("rollout", "rollouts", "ro") or word.startswith(("rollout/", "rollouts/")):
        from reconciler.cli.rollout_tree import get_rollout

        if "/" in word:
            args.names = [args.type.split("/", 1)[1], *args.names]
        code: int = get_rollout(args)
        return code
    if word in ("events", "event", "ev"):
        return _events(args)
    fmt = parse_output(args.output, args.template)
    reqs, single = requests(args.type, args.names)
    query = _Query.from_args(args, reqs)
    with open_store(args) as store:
        mark = store.change_mark()  # before the listing: a change while it is read shows up
        snap = Snapshot(store, now=time.time())
        items, missing = query.run(snap)
        for resource, name in missing:
            print(
                f'Error from server (NotFound): {resource.not_found} "{name}" not found',
                file=sys.stderr,
            )
        _warn_drift(store, items)
        if not items and not missing and fmt.kind in ("", "wide"):  # human printers only
            if query.namespace is None or not reqs[0][0].namespaced:
                print("No resources found", file=sys.stderr)
            else:
                print(f"No resources found in {query.namespace} namespace.", file=sys.stderr)
        printer = GetPrinter(args, fmt, single=single, several=len(reqs) > 1 or args.show_kind)
        if not (single and missing):  # one object asked for and not found: only the error
            printer.first(items)
        if args.watch:
            return watch(
                store,
                lambda: query.run(Snapshot(store, now=time.time()))[0],
                printer,
                items,
                mark=mark,
            )
    return 1 if missing else 0


class _Query:
    """The objects of a ``get``: requested types and names, namespace, selectors, sorting."""

    def __init__(
        self,
        reqs: list[Request],
        *,
        namespace: str | None,
        label: labels.LabelSelector,
        field: fields.FieldSelector,
        sort_by: str | None,
        ignore_not_found: bool,
    ) -> None:
        self.reqs, self.namespace, self.label, self.field = reqs, namespace, label, field
        self.sort_by, self.ignore_not_found = sort_by, ignore_not_found

    @classmethod
    def from_args(cls, args: argparse.Namespace, reqs: list[Request]) -> _Query:
        text, field_text = args.selector or "", args.field_selector or ""
        if (text or field_text) and any(names for _, names in reqs):
            raise ReconcilerError("error: name cannot be provided when a selector is specified")
        try:
            label = labels.parse(text)
            field = fields.parse(field_text)
            for resource, _ in reqs:
                field.check(resource.fields)
        except (labels.SelectorError, fields.FieldSelectorError) as exc:
            raise ReconcilerError(
                f'Error from server (BadRequest): Unable to find "{reqs[0][0].gvr}" that match '
                f'label selector "{text}", field selector "{field_text}": {exc}'
            ) from None
        return cls(
            reqs,
            namespace=None if args.all_namespaces else args.namespace,
            label=label,
            field=field,
            sort_by=args.sort_by,
            ignore_not_found=args.ignore_not_found,
        )

    def run(self, snap: Snapshot) -> tuple[list[Item], list[tuple[Resource, str]]]:
        items: list[Item] = []
        missing: list[tuple[Resource, str]] = []
        for resource, names in self.reqs:
            found = collect(snap, resource, self.namespace if resource.namespaced else None)
            found = [i for i in found if self.label.matches(i.labels) and self.field.matches(i.obj)]
            if names:
                by_name = {i.name: i for i in found}
                found = [by_name[n] for n in dict.fromkeys(names) if n in by_name]
                if not self.ignore_not_found:
                    missing += [(resource, n) for n in names if n not in by_name]
            if self.sort_by:
                found = sort_items(found, self.sort_by)
            items += found
        return items, missing


def _warn_drift(store: Store, items: Sequence[Item]) -> None:
    """On stderr, so any -o stays parseable."""
    for kind, plural in ((Kind.DEPLOYMENT, "deployments"), (Kind.SERVICE, "services")):
        for item in items:
            if item.resource.plural == plural:
                warn_drift(store, kind, item.namespace, [item.name])


class Listing:
    """The objects of one kind, for the web API (``web/views.py``): (name, row, wide, object)."""

    def __init__(self, store: Store, kind: Kind, namespace: str, names: Sequence[str], now: float):
        self.snap = Snapshot(store, now=now)
        self.resource = RESOURCES[_KIND_RESOURCE[kind]]
        self.namespace, self.names = namespace, list(names)

    def collect(self, selector: Mapping[str, str]) -> list[tuple[str, Row, Row, dict[str, Any]]]:
        wanted = labels.from_map(selector)
        return [
            (i.display, list(i.row), list(i.wide), i.obj)
            for i in collect(self.snap, self.resource, self.namespace)
            if (not self.names or i.name in self.names) and wanted.matches(i.labels)
        ]


def _events(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        events = events_for(store.list_events(namespace=args.namespace), args)
        now = time.time()
        if args.names:
            events = [e for e in events if e.ref.name in args.names]
        if not events:
            print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
            return 0
        rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
        for event in sorted(events, key=lambda e: e.last_seen):
            rows.append(
                [
                    output.human_duration(now - event.last_seen),
                    event.type,
                    event.reason,
                    f"{event.ref.kind.lower()}/{event.ref.name}",
                    event.message,
                ]
            )
        sys.stdout.write(output.table(rows))
    return 0


def object_or_fail(store: Store, ref: ObjectRef) -> Any:
    obj = store.get_object(ref)
    if obj is None:
        raise NotFoundError(
            f'Error from server (NotFound): {_NOT_FOUND[ref.kind]} "{ref.name}" not found'
        )
    return obj
