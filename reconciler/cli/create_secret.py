"""``create secret generic NAME --from-literal/--from-file/--from-env-file``: a Secret whose
values never enter the folder; and ``create configmap NAME`` with the same flags, which writes a
new manifest into the folder as ``create deployment`` does (a ConfigMap is meant to be
committed; non-UTF-8 file contents go to ``binaryData``, as kubectl puts them).

The folder is meant to be committed; secret values are not. kubectl users already know this
command, so it takes kubectl's flags and makes the Secret kubectl would make, but writes it to
``STATE_DIR/secrets/NAMESPACE/NAME.yaml`` (directory 0700, file 0600, written atomically)
instead of a cluster. The daemon loads those files with the folder's documents: the Secret is
stored, shown by ``get``/``describe`` and used by pods like any other, and ``delete secret
NAME`` removes the file. Why there and not in a file next to the manifests: the state
directory is already private to its user (0700, ``.gitignore`` of ``*``), so no ``git add .``
can pick the values up, and no manifest has to name a machine-specific path.

Exporting: these Secrets are not in the folder, so ``export`` does not write them; the file is
a valid v1 Secret (``kubectl apply -f STATE_DIR/secrets/default/NAME.yaml``), or run the same
``kubectl create secret generic`` command against the cluster. ``validate`` warns (not errs)
about a reference to a Secret the folder does not define, for the same reason.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from reconciler.cli import output
from reconciler.cli.delete import delete_from_folder, register_deleter
from reconciler.engine.model import IntentAction
from reconciler.errors import ReconcilerError
from reconciler.folder.configsync import secrets_dir
from reconciler.folder.edit import find_object
from reconciler.folder.locate import add_folder_option, resolve_folder
from reconciler.manifests.configrules import check_secret, config_key_error
from reconciler.manifests.envrules import env_name_error
from reconciler.objects import Kind, ObjectRef
from reconciler.paths import ensure_state_dir, find_state_dir
from reconciler.store import Store

__all__ = ["RESYNC", "register_secret", "secret_file", "secret_manifest"]

RESYNC = IntentAction.RESYNC  # asks a running daemon to read the folder (and secrets) again


def secret_file(state_dir: Path, namespace: str, name: str) -> Path:
    return secrets_dir(state_dir) / namespace / f"{name}.yaml"


def _split(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ReconcilerError(f"error: {flag} {text!r}: expected KEY=VALUE")
    return key, value


def _env_file(path: Path) -> list[tuple[str, bytes]]:
    """kubectl's env file: ``KEY=VALUE`` lines, ``#`` comments and blank lines skipped; a bare
    ``KEY`` takes its value from the environment."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"error: cannot read env file {path}: {exc}") from None
    out: list[tuple[str, bytes]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            if key in os.environ:
                out.append((key, os.environ[key].encode("utf-8")))
            continue
        if why := env_name_error(key):
            raise ReconcilerError(
                f'error: "{key}" is not a valid key name ({path}:{number}): {why}'
            )
        out.append((key, value.encode("utf-8")))
    return out


def _from_file(spec: str) -> list[tuple[str, bytes]]:
    key, sep, source = spec.partition("=")
    path = Path(source if sep else spec)
    if path.is_dir() and not sep:
        return [
            (child.name, child.read_bytes())
            for child in sorted(path.iterdir())
            if child.is_file() and config_key_error(child.name) is None
        ]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReconcilerError(f"error: error reading {path}: {exc.strerror}") from None
    return [(key if sep else path.name, data)]


def _pairs(args: argparse.Namespace, what: str) -> list[tuple[str, bytes]]:
    """(key, bytes) from the flags, in order; kubectl's errors for bad and duplicate keys."""
    pairs: list[tuple[str, bytes]] = []
    for literal in args.from_literal or []:
        key, text = _split(literal, "--from-literal")
        pairs.append((key, text.encode("utf-8")))
    for spec in args.from_file or []:
        pairs.extend(_from_file(spec))
    for path in args.from_env_file or []:
        pairs.extend(_env_file(Path(path)))
    seen: set[str] = set()
    for key, _ in pairs:
        if why := config_key_error(key):
            raise ReconcilerError(f'error: "{key}" is not a valid key name for a {what}: {why}')
        if key in seen:
            raise ReconcilerError(
                f"error: cannot add key {key}, another key by that name already exists in Data "
                f'for {what} "{args.name}"'
            )
        seen.add(key)
    return pairs


def _string(text: str) -> str:
    """``text``, quoted in the written YAML when a YAML 1.1 reader would take it for something
    else (``on``, ``yes``, ``1.0``, ``null``): a ConfigMap's values are strings."""
    try:
        plain = yaml.safe_load(text) if "\n" not in text else text
    except yaml.YAMLError:
        plain = None
    return text if plain == text else DoubleQuotedScalarString(text)


def configmap_manifest(args: argparse.Namespace) -> dict[str, Any]:
    """The ConfigMap ``kubectl create configmap`` would make from these flags."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in _pairs(args, "ConfigMap"):
        try:
            data[key] = _string(value.decode("utf-8"))
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode("ascii")
    metadata: dict[str, Any] = {"name": args.name}
    if args.namespace != "default":
        metadata["namespace"] = args.namespace
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def secret_manifest(args: argparse.Namespace) -> dict[str, Any]:
    """The Secret ``kubectl create secret generic`` would make from these flags."""
    data = {key: base64.b64encode(value).decode("ascii") for key, value in _pairs(args, "Secret")}
    metadata: dict[str, Any] = {"name": args.name}
    if args.namespace != "default":
        metadata["namespace"] = args.namespace
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata}
    if data:
        obj["data"] = data
    if args.type:
        obj["type"] = args.type
    problems = [f for f in check_secret({**obj, "metadata": metadata}) if f.severity == "error"]
    if problems:
        raise ReconcilerError(f'error: Secret "{args.name}" is invalid: {problems[0].message}')
    return obj


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` 0600 in a 0700 directory, atomically (never a half-written secret)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (path.parent.parent, path.parent):
        os.chmod(folder, 0o700)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _nudge(state_dir: Path, ref: ObjectRef) -> None:
    """Ask a running daemon to sync now (it also reads the secrets at its periodic resync)."""
    with Store.open(state_dir) as store:
        store.add_intent(ref, RESYNC, {}, now=time.time())


def _create(args: argparse.Namespace) -> int:
    obj = secret_manifest(args)
    if args.dry_run not in (None, "none"):
        output.dump([obj], args.output or "yaml")
        return 0
    ref = ObjectRef(Kind.SECRET, args.namespace, args.name)
    state_dir = ensure_state_dir(find_state_dir(args.state_dir))
    path = secret_file(state_dir, args.namespace, args.name)
    folder = resolve_folder(args)
    in_folder = folder.is_dir() and find_object(folder, ref) is not None
    if path.exists() or in_folder:
        raise ReconcilerError(
            f'error: failed to create secret secrets "{args.name}" already exists'
        )
    text = "# created by reconciler create secret generic; values are base64, not encrypted\n"
    _write_private(path, text + yaml.safe_dump(obj, sort_keys=False))
    _nudge(state_dir, ref)
    print(f"secret/{args.name} created")
    return 0


def _delete_secret(args: argparse.Namespace, ref: ObjectRef) -> int:
    """``delete secret NAME``: from the folder, else the one ``create secret`` wrote."""
    folder = resolve_folder(args)
    if folder.is_dir() and find_object(folder, ref) is not None:
        return delete_from_folder(args, ref)
    state_dir = find_state_dir(args.state_dir)
    path = secret_file(state_dir, ref.namespace, ref.name)
    if not path.is_file():
        return delete_from_folder(args, ref)  # kubectl's NotFound (or --ignore-not-found)
    path.unlink()
    _nudge(state_dir, ref)
    print(f'secret "{ref.name}" deleted')
    return 0


register_deleter(Kind.SECRET, _delete_secret)


def _value_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-literal", action="append", metavar="KEY=VALUE")
    parser.add_argument("--from-file", action="append", metavar="[KEY=]PATH")
    parser.add_argument("--from-env-file", action="append", metavar="PATH")


Emit = Callable[[argparse.Namespace, ObjectRef, dict[str, Any], list[str]], int]


def register_secret(kinds: Any, parent: argparse.ArgumentParser, *, emit: Emit) -> None:
    """``create secret generic`` and ``create configmap``, added to ``create``'s kinds;
    ``emit`` writes a new manifest into the folder (``create``'s own writer)."""

    def create_configmap(args: argparse.Namespace) -> int:
        doc = configmap_manifest(args)
        words = ["create", "configmap", args.name]
        words += [f"--from-literal={v}" for v in args.from_literal or []]
        words += [f"--from-file={v}" for v in args.from_file or []]
        words += [f"--from-env-file={v}" for v in args.from_env_file or []]
        return emit(args, ObjectRef(Kind.CONFIGMAP, args.namespace, args.name), doc, words)

    for word in ("configmap", "cm"):
        configmap = kinds.add_parser(
            word,
            parents=[parent],
            help="a ConfigMap: create configmap NAME [--from-literal K=V] [--from-file [K=]PATH] "
            "[--from-env-file PATH]",
        )
        configmap.add_argument("name", metavar="NAME")
        _value_flags(configmap)
        configmap.add_argument(
            "--dry-run", nargs="?", const="client", choices=["none", "client", "server"],
            help="print the object instead of writing it",
        )  # fmt: skip
        configmap.add_argument("-o", "--output", choices=["yaml", "json", "name"])
        add_folder_option(configmap)
        configmap.set_defaults(func=create_configmap)
    secret = kinds.add_parser(
        "secret", help="a Secret kept out of the folder: create secret generic"
    )
    types = secret.add_subparsers(dest="secret_type", metavar="TYPE")
    types.required = True
    generic = types.add_parser(
        "generic",
        parents=[parent],
        help="create secret generic NAME [--from-literal K=V] [--from-file [K=]PATH] "
        "[--from-env-file PATH]: written 0600 under the state directory, never the folder",
    )
    generic.add_argument("name", metavar="NAME")
    _value_flags(generic)
    generic.add_argument("--type", help="the Secret's type (default Opaque)")
    generic.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        choices=["none", "client", "server"],
        help="print the Secret instead of writing it",
    )
    generic.add_argument("-o", "--output", choices=["yaml", "json"], help="output format")
    add_folder_option(generic)
    generic.set_defaults(func=_create)
