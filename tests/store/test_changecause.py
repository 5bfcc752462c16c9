"""Change causes from a real temporary git repository, and the fallbacks without one."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from reconciler.folder.changecause import change_cause

IDENTITY = ["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com"]


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree with manifests/web.yaml committed once."""
    root = tmp_path / "repo"
    (root / "manifests").mkdir(parents=True)
    _git(root, "init", "-q")
    (root / "manifests" / "web.yaml").write_text("kind: Deployment\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "add web")
    return root


def _cause(path: Path, *, obj: dict[str, object] | None = None, command: str | None = None) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return change_cause(obj=obj or {}, source=os.fspath(path), digest=digest, command=command)


def test_annotation_wins(repo: Path) -> None:
    """kubernetes.io/change-cause in the manifest is used as written."""
    obj = {"metadata": {"annotations": {"kubernetes.io/change-cause": "image to 1.16"}}}
    path = repo / "manifests" / "web.yaml"
    assert _cause(path, obj=obj, command="reconciler scale") == "image to 1.16"


def test_command_beats_git(repo: Path) -> None:
    """A reconciler command that wrote the file names the revision."""
    path = repo / "manifests" / "web.yaml"
    cmd = "reconciler set image deployment/web web=demo:2"
    assert _cause(path, command=cmd) == cmd


def test_last_commit_touching_the_file(repo: Path) -> None:
    """A committed file: `<short sha> <subject> (<author>)` of the last commit touching it."""
    path = repo / "manifests" / "web.yaml"
    path.write_text("kind: Deployment\nspec: {}\n")
    _git(repo, "commit", "-q", "-am", "bump web to v2")
    (repo / "other.txt").write_text("x")  # a later commit that does not touch web.yaml
    _git(repo, "add", "other.txt")
    _git(repo, "commit", "-q", "-m", "unrelated")
    sha = _git(repo, "log", "-1", "--format=%h", "--", "manifests/web.yaml")
    assert _cause(path) == f"{sha} bump web to v2 (Ada Lovelace)"


def test_uncommitted_edit_is_marked(repo: Path) -> None:
    """A file that differs from its last commit gets ` (uncommitted)`."""
    path = repo / "manifests" / "web.yaml"
    path.write_text("kind: Deployment\nspec: {replicas: 3}\n")
    sha = _git(repo, "log", "-1", "--format=%h")
    assert _cause(path) == f"{sha} add web (Ada Lovelace) (uncommitted)"


def test_never_committed_file(repo: Path) -> None:
    """A file git has never seen: path, digest, then (uncommitted)."""
    path = repo / "manifests" / "api.yaml"
    path.write_text("kind: Deployment\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert _cause(path) == f"{path} sha256:{digest[:12]} (uncommitted)"


def test_repository_without_commits(tmp_path: Path) -> None:
    """A fresh `git init` with no commit yet counts as uncommitted."""
    _git(tmp_path, "init", "-q")
    path = tmp_path / "web.yaml"
    path.write_text("x: 1\n")
    assert _cause(path).endswith(" (uncommitted)")


def test_outside_git_is_path_and_digest(tmp_path: Path) -> None:
    """No git work tree: `<path> sha256:<12 hex>`."""
    folder = tmp_path / "plain"
    folder.mkdir()
    path = folder / "web.yaml"
    path.write_text("kind: Deployment\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    env_ceiling = {"GIT_CEILING_DIRECTORIES": os.fspath(tmp_path)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env_ceiling.items():
            mp.setenv(key, value)
        assert _cause(path) == f"{path} sha256:{digest[:12]}"


def test_git_missing_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a git executable the cause falls back to path and digest."""
    monkeypatch.setenv("PATH", os.fspath(tmp_path / "empty-bin"))
    path = tmp_path / "web.yaml"
    path.write_text("a: 1\n")
    assert _cause(path).startswith(f"{path} sha256:")
