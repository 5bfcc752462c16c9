"""``reconciler validate`` and ``reconciler schema`` through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from validate_factory import deployment, dump, service

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd or ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A folder with one valid file and one file holding a schema error and a warning."""
    good = deployment()
    bad = deployment()
    bad["metadata"]["name"] = "api"
    bad["spec"]["replicas"] = "three"
    warn = service()
    warn["spec"]["clusterIP"] = "10.0.0.1"
    (tmp_path / "good.yaml").write_text(dump(good, warn))
    (tmp_path / "bad.yaml").write_text(dump(bad))
    assert dump(bad).splitlines()[7] == "  replicas: three"  # line 8, column 3
    return tmp_path


def test_default_path_is_manifests_and_the_examples_are_valid() -> None:
    """`reconciler validate` with no path checks manifests/, whose examples are all valid."""
    result = run("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0, Warnings: 0" in result.stdout


def test_text_output_and_exit_1(broken: Path) -> None:
    """Text lines are file:line:col: severity: field: message (rule); invalid exits 1."""
    result = run("validate", "bad.yaml", "good.yaml", cwd=broken)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "bad.yaml:8:3: error: spec.replicas: 'three' is not of type 'integer' (schema)" in lines
    assert lines[-1] == (
        "Summary: 3 resources found in 2 files - Valid: 2, Invalid: 1, Errors: 1, Warnings: 1"
    )


def test_strict_turns_warnings_into_errors(broken: Path) -> None:
    """--strict: a warning alone makes the run fail."""
    assert run("validate", "good.yaml", cwd=broken).returncode == 0
    assert run("validate", "--strict", "good.yaml", cwd=broken).returncode == 1


def test_json_output_parses(broken: Path) -> None:
    """-o json carries the summary, resources and problems."""
    result = run("validate", "-o", "json", ".", cwd=broken)
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["summary"]["invalid"] == 1 and data["summary"]["ok"] is False
    (error,) = [p for p in data["problems"] if p["severity"] == "error"]
    assert (error["file"], error["line"], error["column"], error["rule"]) == (
        "bad.yaml",
        8,
        3,
        "schema",
    )
    assert {r["name"]: r["valid"] for r in data["resources"]} == {"web": True, "api": False}


def test_junit_output_parses(broken: Path) -> None:
    """-o junit: one suite per file, one case per resource, failures carry the problems."""
    result = run("validate", "-o", "junit", ".", cwd=broken)
    root = ElementTree.fromstring(result.stdout)
    assert root.get("tests") == "3" and root.get("failures") == "1"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    failure = suites["bad.yaml"].find("testcase/failure")
    assert failure is not None and failure.get("type") == "schema"
    assert "bad.yaml:8:3" in (failure.text or "")
    assert "clusterIP" in (suites["good.yaml"].findtext("system-out") or "")


def test_github_annotations(broken: Path) -> None:
    """-o github prints workflow commands that annotate the line."""
    result = run("validate", "-o", "github", ".", cwd=broken)
    assert (
        "::error file=bad.yaml,line=8,col=3,title=reconciler validate (schema)::"
        "spec.replicas: 'three' is not of type 'integer'"
    ) in result.stdout.splitlines()
    assert "::warning file=good.yaml" in result.stdout


def test_syntax_error_exits_1_and_missing_path_exits_2(tmp_path: Path) -> None:
    """A YAML syntax error is an invalid manifest (exit 1, as kubeconform); a missing path is 2."""
    (tmp_path / "x.yaml").write_text("a: [1\n")
    result = run("validate", "x.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "x.yaml:2:1: error: YAML syntax error" in result.stdout
    assert run("validate", "missing.yaml", cwd=tmp_path).returncode == 2


def test_usage_error_exits_2() -> None:
    """An unknown output format is a usage error."""
    assert run("validate", "-o", "yaml").returncode == 2


def test_stdin() -> None:
    """`-` reads manifests from stdin."""
    result = run("validate", "-", stdin=dump(deployment()))
    assert result.returncode == 0
    assert "1 resources found in 1 files" in result.stdout


def test_schema_command() -> None:
    """`reconciler schema deployment` prints the shipped schema; no kind prints a combined one."""
    deployment_schema = json.loads(run("schema", "deploy").stdout)
    assert deployment_schema["properties"]["kind"] == {"const": "Deployment"}
    combined = json.loads(run("schema").stdout)
    assert set(combined["$defs"]) == {"deployment", "service", "configmap", "secret"}
    assert run("schema", "pod").returncode == 2
