"""``reconciler export --target kubernetes [DIR] [-o DIR|-]``: the same folder, for a cluster.

The folder is validated first, exactly as the daemon would (an invalid folder exports nothing,
exit 1). The objects go to stdout as multi-document YAML (``-o -``, the default, ready for
``kubectl apply -f -``) or to one file per object in a folder; every translation that changes
meaning is printed to stderr as a warning (exit 0: the output is usable, the warnings say
where it differs). ``--traffic-router gatewayapi|istio`` maps canary request weights and header
routes to Argo Rollouts' traffic routing, with the HTTPRoute or VirtualService it edits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import Problem, ReconcilerError
from reconciler.export import (
    ExportedObject,
    TrafficRouter,
    dump_yaml,
    export_objects,
    file_name,
    portability_problems,
)

if TYPE_CHECKING:
    # Imported when the command runs: the CLI discovers every module of this package at start,
    # and `reconciler get` should not pay for (or fail with) the validator.
    from reconciler.manifests.load import Document
    from reconciler.manifests.validate import Report, ValidObject

TARGETS = ("kubernetes",)


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "export",
        help="write the folder's objects for a real cluster (Deployments, Services, Rollouts)",
        description="Translate a folder of manifests into objects a Kubernetes cluster accepts: "
        "Deployments and Services as they are, BlueGreen and Canary Deployments as Argo "
        "Rollouts. Warnings name every field whose meaning changes.",
    )
    parser.add_argument(
        "--target", choices=TARGETS, default="kubernetes", help="target platform (kubernetes)"
    )
    parser.add_argument(
        "dir",
        nargs="*",
        default=["manifests"],
        metavar="DIR",
        help="manifests (default: manifests)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR|-",
        help="a folder to write one file per object into, or - for stdout (default)",
    )
    parser.add_argument(
        "--traffic-router",
        choices=[router.value for router in TrafficRouter],
        default=None,
        help="who routes requests in the cluster, for canary request weights (appProtocol: "
        "http) and header routes: the Argo Rollouts Gateway API plugin (an HTTPRoute) or "
        "Istio (a VirtualService); default: none (those steps are warned about)",
    )
    parser.set_defaults(func=run_export)


@dataclass(frozen=True, slots=True)
class Located:
    """A validated object with its document, so warnings can name the field's own line."""

    valid: ValidObject
    document: Document | None

    @property
    def obj(self) -> dict[str, Any]:
        return self.valid.obj

    @property
    def source(self) -> str:
        return self.valid.source

    @property
    def line(self) -> int:
        return self.valid.line

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        if self.document is None:
            return (self.line, 1)
        return self.document.position(path)


def positioned(objects: Sequence[ValidObject]) -> list[Located]:
    """Pair each valid object with its document, so warnings can name the field's line.

    ``ValidObject`` carries no positions; its files are loaded a second time (cheap next to
    validation) and matched by file and first line. Standard input cannot be read twice: its
    objects fall back to their first line.
    """
    from reconciler.manifests.load import STDIN, load_paths

    sources = sorted({item.source for item in objects} - {STDIN})
    documents = {(doc.source, doc.line): doc for doc in load_paths(sources).documents}
    return [Located(item, documents.get((item.source, item.line))) for item in objects]


def kubernetes_problems(report: Report) -> list[Problem]:
    """What would not carry over to a cluster: ``reconciler validate --target kubernetes``."""
    return portability_problems(positioned(report.objects))


def run_export(args: argparse.Namespace) -> int:
    from reconciler.manifests.validate import validate_paths

    report = validate_paths(list(args.dir))
    for problem in report.problems:
        print(problem.render(), file=sys.stderr)
    if not report.ok:
        print("error: the manifests are not valid; nothing exported", file=sys.stderr)
        return 1
    router = TrafficRouter(args.traffic_router) if args.traffic_router else None
    exported = export_objects(positioned(report.objects), traffic_router=router)
    for problem in exported.problems:
        print(problem.render(), file=sys.stderr)
    if args.output == "-":
        sys.stdout.write(dump_yaml(exported.objects))
    else:
        for path in write_folder(Path(args.output), exported.objects):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def write_folder(folder: Path, objects: tuple[ExportedObject, ...]) -> list[Path]:
    """One ``<kind>-<name>.yaml`` per object; two objects may not share a file name."""
    names: dict[str, ExportedObject] = {}
    for item in objects:
        name = file_name(item.obj)
        if name in names:
            raise ReconcilerError(
                f"{item.source}:{item.line}: {item.kind} {item.name!r} would overwrite {name} "
                f"written from {names[name].source}:{names[name].line}"
            )
        names[name] = item
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReconcilerError(f"cannot create {os.fspath(folder)}: {exc.strerror}") from None
    written = []
    for name, item in names.items():
        path = folder / name
        path.write_text(dump_yaml((item,)), encoding="utf-8")
        written.append(path)
    return written
