"""The exec wrapper: ``python -I -S .../isolation/enter.py SPEC -- ARGV...``.

The runtime (or any supervisor) starts this in place of the container's command; it joins the
container's cgroups, unshares a mount namespace, makes every mount private, puts the volumes at
their mountPaths (``mounts.plan_mounts``), changes to the working directory and ``exec``s
ARGV. Everything it does is undone by the kernel when the last process of the namespace exits:
nothing is mounted on the host. The runtime runs it as a file without ``site`` (``-I -S``), so
it imports only the standard library and its two siblings (``mounts``, ``syscalls``) and starts
in about as long as a bare interpreter does; ``python -m reconciler.runtime.isolation.enter``
works too.

SPEC is a JSON file the runtime wrote: ``{"cgroups": [procs files], "mounts": [Mount fields],
"stage": dir, "cwd": dir, "error_file": path}``. On failure the reason goes to stderr (the
container's log) and to ``error_file``, and the exit code is 128 (the runtime's StartError).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

if __package__:
    from reconciler.runtime.isolation import syscalls as sc
    from reconciler.runtime.isolation.mounts import (
        Bind,
        MakePath,
        Mount,
        Shadow,
        Step,
        plan_mounts,
    )
else:  # run as a file (``python -I -S .../enter.py``): its siblings, and no site or package
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves it out
    import syscalls as sc  # type: ignore[import-not-found,no-redef]
    from mounts import (  # type: ignore[import-not-found,no-redef]
        Bind,
        MakePath,
        Mount,
        Shadow,
        Step,
        plan_mounts,
    )

START_ERROR = 128


def join_cgroups(procs_files: list[str]) -> None:
    for procs in procs_files:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))


def _shadow(path: str, stage: str) -> None:
    """Replace ``path`` by a tmpfs with bind mounts of its original entries (module docstring
    of ``mounts``). The staging tmpfs is unbindable, so the recursive binds of the entries,
    one of which may contain it, leave it out."""
    sc.mount("tmpfs", stage, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=0700")
    sc.mount("none", stage, None, sc.MS_UNBINDABLE, None)
    layer = os.path.join(stage, "layer")
    os.mkdir(layer)
    info = os.stat(path)
    sc.mount(
        "tmpfs",
        layer,
        "tmpfs",
        0,
        f"mode={info.st_mode & 0o7777:o},uid={info.st_uid},gid={info.st_gid}",
    )
    sc.mount("none", layer, None, sc.MS_PRIVATE, None)
    with os.scandir(path) as entries:
        for entry in entries:
            source = os.path.join(path, entry.name)
            copy = os.path.join(layer, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(source), copy)
            elif entry.is_dir(follow_symlinks=False):
                os.mkdir(copy)
                sc.mount(source, copy, None, sc.MS_BIND | sc.MS_REC, None)
            else:
                os.close(os.open(copy, os.O_CREAT | os.O_WRONLY, 0o600))
                sc.mount(source, copy, None, sc.MS_BIND, None)
    if path == "/":
        # the namespace's root itself: the layer becomes it, so setns (exec) sees it too
        os.chdir(layer)
        sc.pivot_root(".", ".")
        sc.umount(".", sc.MNT_DETACH)
        os.chdir("/")
    else:
        sc.mount(layer, path, None, sc.MS_MOVE, None)


def _make_path(step: MakePath) -> None:
    if step.is_file:
        os.makedirs(os.path.dirname(step.path), exist_ok=True)
        os.close(os.open(step.path, os.O_CREAT | os.O_WRONLY, 0o644))
    else:
        os.makedirs(step.path, exist_ok=True)


def _bind(step: Bind) -> None:
    sc.mount(step.source, step.target, None, sc.MS_BIND | sc.MS_REC, None)
    if step.read_only:
        flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV
        sc.mount("none", step.target, None, flags, None)


def apply_steps(steps: list[Step], *, stage: str) -> None:
    for step in steps:
        if isinstance(step, Shadow):
            _shadow(step.path, stage)
        elif isinstance(step, MakePath):
            _make_path(step)
        else:
            _bind(step)


def enter(spec: dict[str, Any]) -> None:
    """Everything but the exec: cgroups, then the private mount namespace and its mounts."""
    join_cgroups([str(p) for p in spec.get("cgroups") or []])
    mounts = [Mount(**m) for m in spec.get("mounts") or []]
    if mounts:
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount("none", "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
        apply_steps(plan_mounts(mounts, exists=os.path.lexists), stage=str(spec["stage"]))
    os.chdir(str(spec.get("cwd") or "/"))


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m reconciler.runtime.isolation.enter SPEC -- ARGV", file=sys.stderr)
        return 2
    spec_path, command = argv[0], argv[2:]
    spec: dict[str, Any] = {}
    try:
        with open(spec_path) as handle:
            spec = json.load(handle)
        enter(spec)
        os.execv(command[0], command)
    except OSError as exc:
        message = f"failed to create containerd task: {exc.strerror or exc}"
        if isinstance(exc.args[-1], str) and exc.args[-1] != exc.strerror:
            message = f"failed to create containerd task: {exc.args[-1]}"
        print(f"reconciler: {message}", file=sys.stderr, flush=True)
        error_file = spec.get("error_file")
        if error_file:
            with contextlib.suppress(OSError), open(str(error_file), "w") as handle:
                handle.write(message)
    return START_ERROR


if __name__ == "__main__":  # pragma: no cover - run as the exec wrapper
    sys.exit(main(sys.argv[1:]))
