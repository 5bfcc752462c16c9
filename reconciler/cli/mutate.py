"""``set image``, ``scale``, ``annotate``, ``label``: one field of one object, edited in place.

Each verb is a small mutation of the object's document in the folder (DESIGN decision 1):
the file keeps its comments and layout, the daemon sees an ordinary change, and the command
line is noted as the change cause. Refusals use kubectl's words.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ruamel.yaml.comments import CommentedMap

from reconciler.cli.common import common_options
from reconciler.errors import ReconcilerError, UsageError
from reconciler.folder.edit import update_object
from reconciler.folder.locate import (
    add_folder_option,
    command_line,
    document_check,
    kubectl_errors,
    locate,
    note_command,
    resolve_folder,
)
from reconciler.objects import Kind, ObjectRef, parse_resource


def _split_words(words: list[str]) -> tuple[list[str], list[str]]:
    """``["deploy", "web", "a=b", "c-"]`` -> resource words, then assignments."""
    for i, word in enumerate(words):
        if "=" in word or (word.endswith("-") and i > 0 and "/" not in word):
            if i == 0:
                break
            return words[:i], words[i:]
    if len(words) >= 2 and "/" in words[0]:
        return words[:1], words[1:]
    return words, []


def _resource(words: list[str], args: argparse.Namespace) -> ObjectRef:
    return parse_resource(words, namespace=args.namespace)


def _apply(
    args: argparse.Namespace,
    ref: ObjectRef,
    mutate: Callable[[CommentedMap], None],
    *,
    words: list[str],
) -> bool:
    folder = resolve_folder(args)
    located = locate(folder, ref)
    changed = update_object(located, mutate, check=document_check(located, folder=folder))
    if changed:
        note_command(args, located.path, command_line(words))
    return changed


def _mapping(doc: CommentedMap, *path: str) -> CommentedMap:
    node: Any = doc
    for key in path:
        child = node.get(key)
        if not isinstance(child, dict):
            child = CommentedMap()
            node[key] = child
        node = child
    return node  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------ set image


def _set_image(args: argparse.Namespace) -> int:
    resource, pairs = _split_words(args.words)
    if not pairs:
        raise UsageError("error: at least one image update is required")
    ref = _resource(resource, args)
    if ref.kind is not Kind.DEPLOYMENT:
        raise ReconcilerError(f"error: {ref.display} has no containers to set an image on")
    images: dict[str, str] = {}
    for pair in pairs:
        name, sep, image = pair.partition("=")
        if not sep or not name or not image:
            raise UsageError(f"error: invalid image update {pair!r}: expected CONTAINER=IMAGE")
        images[name] = image

    def mutate(doc: CommentedMap) -> None:
        pod = _mapping(doc, "spec", "template", "spec")
        containers = [
            c
            for field in ("initContainers", "containers")
            for c in (pod.get(field) or [])
            if isinstance(c, dict)
        ]
        names = {str(c.get("name")) for c in containers}
        for name in images:
            if name != "*" and name not in names:
                raise ReconcilerError(f'error: unable to find container named "{name}"')
        for container in containers:
            image = images.get(str(container.get("name")), images.get("*"))
            if image is not None and container.get("image") != image:
                container["image"] = image

    _apply(args, ref, mutate, words=["set", "image", *args.words])
    print(f"{ref.display} image updated")
    return 0


# ---------------------------------------------------------------------------------------- scale


def _scale(args: argparse.Namespace) -> int:
    ref = _resource(args.resource, args)
    if args.replicas is None or args.replicas < 0:
        raise UsageError(
            "error: The --replicas=COUNT flag is required, and COUNT must be greater than or "
            "equal to 0"
        )
    if ref.kind is not Kind.DEPLOYMENT:
        raise ReconcilerError(f'error: no scaler has been implemented for {{"" "{ref.kind}"}}')

    def mutate(doc: CommentedMap) -> None:
        spec = _mapping(doc, "spec")
        if spec.get("replicas") != args.replicas:
            spec["replicas"] = args.replicas

    _apply(
        args,
        ref,
        mutate,
        words=["scale", *args.resource, f"--replicas={args.replicas}"],
    )
    print(f"{ref.display} scaled")
    return 0


# ------------------------------------------------------------------------- annotate and label


def _parse_changes(pairs: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    updates: dict[str, str] = {}
    removals: list[str] = []
    for pair in pairs:
        if "=" in pair:
            key, _, value = pair.partition("=")
            if not key:
                raise UsageError(f"error: invalid {what} format: {pair}")
            updates[key] = value
        elif pair.endswith("-") and len(pair) > 1:
            removals.append(pair[:-1])
        else:
            raise UsageError(f"error: invalid {what} format: {pair}")
    if not updates and not removals:
        raise UsageError(f"error: at least one {what} update is required")
    return updates, removals


def _metadata_verb(args: argparse.Namespace, *, field: str, what: str, done: str) -> int:
    resource, pairs = _split_words(args.words)
    ref = _resource(resource, args)
    updates, removals = _parse_changes(pairs, what)

    def mutate(doc: CommentedMap) -> None:
        current = doc.get("metadata", {}).get(field) or {}
        if not args.overwrite:
            clashes = [
                (k, current[k]) for k, v in updates.items() if k in current and current[k] != v
            ]
            if clashes and field == "annotations":
                listed = ", ".join(f"'{k}' already has a value ({v})" for k, v in clashes)
                raise ReconcilerError(
                    "error: --overwrite is false but found the following declared "
                    f"annotation(s): {listed}"
                )
            if clashes:
                k, v = clashes[0]
                raise ReconcilerError(
                    f"error: '{k}' already has a value ({v}), and --overwrite is false"
                )
        target = _mapping(doc, "metadata", field)
        for key, value in updates.items():
            if target.get(key) != value:
                target[key] = value
        for key in removals:
            target.pop(key, None)
        if not target:
            del doc["metadata"][field]

    _apply(
        args,
        ref,
        mutate,
        words=[args.verb, *args.words, *(["--overwrite"] if args.overwrite else [])],
    )
    print(f"{ref.display} {done}")
    return 0


def _annotate(args: argparse.Namespace) -> int:
    return _metadata_verb(args, field="annotations", what="annotation", done="annotated")


def _label(args: argparse.Namespace) -> int:
    return _metadata_verb(args, field="labels", what="label", done="labeled")


def register(commands: Any, rollout: Any) -> None:
    parent = common_options()
    set_parser = commands.add_parser("set", help="set a field of an object (image)")
    set_commands = set_parser.add_subparsers(dest="set_command", metavar="SUBCOMMAND")
    set_commands.required = True
    image = set_commands.add_parser(
        "image",
        parents=[parent],
        help="update the image of containers: set image deployment/NAME C=IMAGE (*=IMAGE for all)",
    )
    image.add_argument("words", nargs="+", metavar="TYPE/NAME C=IMAGE")
    add_folder_option(image)
    image.set_defaults(func=kubectl_errors(_set_image))

    scale = commands.add_parser(
        "scale", parents=[parent], help="set the replicas of a deployment in its manifest"
    )
    scale.add_argument("resource", nargs="+", metavar="TYPE/NAME")
    scale.add_argument("--replicas", type=int, required=True, help="the new replica count")
    add_folder_option(scale)
    scale.set_defaults(func=kubectl_errors(_scale))

    for verb, handler, noun in (
        ("annotate", _annotate, "annotations"),
        ("label", _label, "labels"),
    ):
        parser = commands.add_parser(
            verb, parents=[parent], help=f"update the {noun} of an object (k=v, k- removes)"
        )
        parser.add_argument("words", nargs="+", metavar="TYPE/NAME k=v")
        parser.add_argument(
            "--overwrite", action="store_true", help=f"allow replacing existing {noun}"
        )
        add_folder_option(parser)
        parser.set_defaults(func=kubectl_errors(handler), verb=verb)
