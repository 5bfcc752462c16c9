"""Change causes that are never ``<none>`` (semantics §1.10, §7.3 item 4).

kubectl's history shows the ``kubernetes.io/change-cause`` annotation, which nobody sets since
``--record`` was deprecated. Here the cause is found automatically, in this order:

1. the annotation, when the manifest has one (the user said it);
2. the ``reconciler`` command that wrote the file (``reconciler set image deployment/web ...``);
3. the last git commit touching the file: ``1a2b3c4 bump web to v2 (Ada)``, with
   `` (uncommitted)`` when the file differs from that commit;
   a file git has never seen: ``manifests/web.yaml sha256:0123456789ab (uncommitted)``;
4. otherwise the path and content digest: ``manifests/web.yaml sha256:0123456789ab``.

git runs in the file's directory with a timeout; a missing or broken git is not an error.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
GIT_TIMEOUT_SECONDS = 5.0


def _git(args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str] | None:
    # GIT_OPTIONAL_LOCKS=0: reading status must never take the index lock from under the user
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None


def _digest_cause(source: str, digest: str) -> str:
    hex_ = digest.split(":", 1)[-1]
    return f"{source} sha256:{hex_[:12]}"


def git_cause(path: Path, *, source: str, digest: str) -> str | None:
    """The git-based cause of ``path``, or None when it is not in a git work tree."""
    folder = path.parent
    if not folder.is_dir():
        return None
    inside = _git(["rev-parse", "--is-inside-work-tree"], cwd=folder)
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    log = _git(["log", "-1", "--no-color", "--format=%h%x00%s%x00%an", "--", path.name], cwd=folder)
    if log is None or log.returncode != 0:
        # e.g. a repository without any commit yet
        return f"{_digest_cause(source, digest)} (uncommitted)"
    parts = log.stdout.rstrip("\n").split("\x00")
    if len(parts) != 3:
        return f"{_digest_cause(source, digest)} (uncommitted)"
    sha, subject, author = parts
    cause = f"{sha} {subject} ({author})"
    changed = _git(["diff", "--quiet", "HEAD", "--", path.name], cwd=folder)
    if changed is None or changed.returncode != 0:
        cause += " (uncommitted)"
    return cause


def change_cause(*, obj: Mapping[str, Any], source: str, digest: str, command: str | None) -> str:
    """The change cause of one applied object (see the module docstring for the order)."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if isinstance(annotations, Mapping):
        annotated = annotations.get(CHANGE_CAUSE_ANNOTATION)
        if isinstance(annotated, str) and annotated.strip():
            return annotated
    if command:
        return command
    cause = git_cause(Path(source).absolute(), source=source, digest=digest)
    return cause if cause is not None else _digest_cause(source, digest)
