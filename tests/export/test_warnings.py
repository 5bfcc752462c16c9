"""Each translation that changes meaning is one warning naming the file, line and field."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from reconciler.errors import Problem, Severity
from reconciler.export import RULE, export_objects, portability_problems
from tests.export.conftest import load_documents, schema_errors

SOURCE = "manifests/app.yaml"


def deployment(strategy: str = "", spec: str = "", container: str = "") -> str:
    """A minimal Deployment; the parts given are indented into spec, strategy and container."""
    return (
        textwrap.dedent(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              selector:
                matchLabels: {app: web}
            {spec}
            {strategy}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                    - name: web
                      image: web:1
                      command: ["./web"]
            {container}
            """
        )
        .replace("{spec}", textwrap.indent(textwrap.dedent(spec), "  ").rstrip())
        .replace("{strategy}", textwrap.indent(textwrap.dedent(strategy), "  ").rstrip())
        .replace("{container}", textwrap.indent(textwrap.dedent(container), " " * 10).rstrip())
    )


def export(text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    result = export_objects(load_documents(text, SOURCE))
    objects = [item.obj for item in result.objects]
    for obj in objects:
        assert schema_errors(obj) == []
    return objects, list(result.problems)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [p.render() for p in problems]
    problem = problems[0]
    assert (problem.file, problem.severity, problem.rule) == (SOURCE, Severity.WARNING, RULE)
    return problem


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_clean_rolling_deployment_and_service_have_no_warnings() -> None:
    """A plain Deployment and Service carry over with no warning at all."""
    text = deployment(spec="replicas: 2") + textwrap.dedent(
        """\
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{port: 80}]
        """
    )
    objects, problems = export(text)
    assert problems == []
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]


def test_auto_rollback_dropped_from_deployment() -> None:
    """autoRollback on a RollingUpdate Deployment is removed with a warning at its line."""
    text = deployment(spec="autoRollback: true")
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == "spec.autoRollback"
    assert problem.line == line_of(text, "autoRollback")
    assert "no automatic rollback" in problem.message
    assert "kubectl rollout undo" in problem.message
    assert "autoRollback" not in objects[0]["spec"]


def test_auto_rollback_false_dropped_silently() -> None:
    """autoRollback: false means what Kubernetes does anyway: removed without a warning."""
    objects, problems = export(deployment(spec="autoRollback: false"))
    assert problems == []
    assert "autoRollback" not in objects[0]["spec"]


@pytest.mark.parametrize("strategy", ["BlueGreen", "Canary"])
def test_auto_rollback_maps_to_progress_deadline_abort(strategy: str) -> None:
    """autoRollback on a Rollout becomes progressDeadlineAbort, warning how semantics differ."""
    body = "blueGreen: {activeService: web}" if strategy == "BlueGreen" else "canary: {}"
    text = deployment(
        spec="autoRollback: true\nprogressDeadlineSeconds: 90",
        strategy=f"strategy:\n  type: {strategy}\n  {body}",
    )
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == "spec.autoRollback"
    assert problem.line == line_of(text, "autoRollback")
    assert "progressDeadlineAbort" in problem.message
    assert "(90)" in problem.message
    assert "CrashLoopBackOff" in problem.message
    assert objects[0]["spec"]["progressDeadlineAbort"] is True
    assert "autoRollback" not in objects[0]["spec"]


@pytest.mark.parametrize(
    ("field", "value", "rounded"),
    [
        pytest.param("initialDelaySeconds", "0.5", 1, id="initial delay"),
        pytest.param("periodSeconds", "1.5", 2, id="period"),
        pytest.param("timeoutSeconds", "0.25", 1, id="timeout"),
    ],
)
@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe", "startupProbe"])
def test_fractional_probe_seconds_round_up(
    probe: str, field: str, value: str, rounded: int
) -> None:
    """Fractional probe seconds become whole seconds, rounded up, one warning each."""
    text = deployment(container=f"{probe}:\n  tcpSocket: {{port: 80}}\n  {field}: {value}")
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == f"spec.template.spec.containers[0].{probe}.{field}"
    assert (problem.line, problem.column) == (line_of(text, field), 13)
    assert f"{value} rounded up to {rounded}" in problem.message
    container = objects[0]["spec"]["template"]["spec"]["containers"][0]
    assert container[probe][field] == rounded


def test_whole_probe_seconds_written_as_floats_are_silent() -> None:
    """``periodSeconds: 2.0`` is 2 seconds exactly: made an integer, no warning."""
    objects, problems = export(deployment(container="readinessProbe:\n  periodSeconds: 2.0"))
    assert problems == []
    probe = objects[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["periodSeconds"] == 2
    assert type(probe["periodSeconds"]) is int


@pytest.mark.parametrize("working_dir", ["site", "./site", "../shared"])
def test_relative_working_dir_flagged(working_dir: str) -> None:
    """A working directory relative to the folder is kept but flagged."""
    text = deployment(container=f"workingDir: {working_dir}")
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == "spec.template.spec.containers[0].workingDir"
    assert problem.line == line_of(text, "workingDir")
    assert "absolute path" in problem.message
    assert objects[0]["spec"]["template"]["spec"]["containers"][0]["workingDir"] == working_dir


def test_absolute_working_dir_is_silent() -> None:
    """An absolute working directory means the same in the image: no warning."""
    assert export(deployment(container="workingDir: /srv/web"))[1] == []


def test_canary_analysis_dropped_with_what_a_template_needs() -> None:
    """Canary analysis is removed; the warning spells out the AnalysisTemplate to write."""
    text = deployment(
        strategy="""\
        strategy:
          type: Canary
          canary:
            canaryService: web-canary
            analysis:
              httpGet: {path: /healthz, port: 8080}
              interval: 10s
              failureLimit: 2
              expectedStatus: 204
        """
    )
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == "spec.strategy.canary.analysis"
    assert problem.line == line_of(text, "analysis:")
    for expected in (
        "AnalysisTemplate",
        "http://web-canary:8080/healthz",
        "interval 10s",
        "failureLimit 2",
        "HTTP 204",
        "templateName",
    ):
        assert expected in problem.message
    assert objects[0]["spec"]["strategy"] == {"canary": {"canaryService": "web-canary"}}


@pytest.mark.parametrize(
    ("duration", "expected", "warned"),
    [
        pytest.param("1.5", 2, True, id="fractional number"),
        pytest.param('"500ms"', 1, True, id="milliseconds"),
        pytest.param('"1.5s"', 2, True, id="fractional string"),
        pytest.param("10", 10, False, id="whole number"),
        pytest.param('"30s"', "30s", False, id="seconds string kept"),
        pytest.param('"5m"', "5m", False, id="minutes string kept"),
    ],
)
def test_canary_pause_durations(duration: str, expected: object, warned: bool) -> None:
    """Pause durations stay as written when Argo reads them the same; else whole seconds."""
    text = deployment(
        strategy="strategy:\n  type: Canary\n  canary:\n    steps:\n"
        f"      - pause: {{duration: {duration}}}"
    )
    objects, problems = export(text)
    assert objects[0]["spec"]["strategy"]["canary"]["steps"] == [{"pause": {"duration": expected}}]
    if warned:
        problem = only(problems)
        assert problem.field == "spec.strategy.canary.steps[0].pause.duration"
        assert problem.line == line_of(text, "pause:")
    else:
        assert problems == []


@pytest.mark.parametrize(
    ("replicas", "weight", "warned"),
    [
        pytest.param(4, 25, False, id="1 of 4 is exact"),
        pytest.param(4, 10, True, id="10% of 4 is not"),
        pytest.param(10, 33, True, id="33% of 10 is not"),
        pytest.param(1, 100, False, id="100% is always exact"),
        pytest.param(3, 0, False, id="0% is always exact"),
    ],
)
def test_canary_weights_without_traffic_routing(replicas: int, weight: int, warned: bool) -> None:
    """A weight that no whole number of pods can show is flagged (Argo splits by pods)."""
    text = deployment(
        spec=f"replicas: {replicas}",
        strategy=f"strategy:\n  type: Canary\n  canary:\n    steps:\n      - setWeight: {weight}",
    )
    _, problems = export(text)
    if warned:
        problem = only(problems)
        assert problem.field == "spec.strategy.canary.steps[0].setWeight"
        assert f"{weight}% of {replicas} replicas is {weight * replicas / 100:g} pods" in (
            problem.message
        )
    else:
        assert problems == []


@pytest.mark.parametrize("field", ["scaleDownDelaySeconds: 30", "dynamicStableScale: true"])
def test_canary_fields_argo_rejects_without_traffic_routing(field: str) -> None:
    """Canary fields Argo refuses without trafficRouting are dropped with a warning."""
    name = field.split(":")[0]
    text = deployment(strategy=f"strategy:\n  type: Canary\n  canary:\n    {field}")
    objects, problems = export(text)
    problem = only(problems)
    assert problem.field == f"spec.strategy.canary.{name}"
    assert "InvalidSpec" in problem.message
    assert objects[0]["spec"]["strategy"] == {"canary": {}}


def test_port_reference_without_declared_port_is_flagged() -> None:
    """``$(PORT_ADMIN)`` with no port named admin stays literal in a cluster: warned."""
    text = deployment(container='args: ["--admin=$(PORT_ADMIN)"]')
    _, problems = export(text)
    problem = only(problems)
    assert problem.field == "spec.template.spec.containers[0]"
    assert "$(PORT_ADMIN)" in problem.message


def test_warnings_without_positions_point_at_the_object() -> None:
    """An input with no position lookup still gets the object's own file and line."""

    class Plain:
        source, line = "x.yaml", 7
        obj = load_documents(deployment(spec="autoRollback: true"))[0].obj

    problem = only_from(portability_problems([Plain()]))
    assert (problem.file, problem.line, problem.column) == ("x.yaml", 7, 1)


def only_from(problems: list[Problem]) -> Problem:
    assert len(problems) == 1
    return problems[0]


def test_portability_problems_are_the_export_warnings() -> None:
    """validate --target kubernetes reports exactly what export would warn about."""
    documents = load_documents(deployment(spec="autoRollback: true", container="workingDir: x"))
    assert portability_problems(documents) == list(export_objects(documents).problems)
    assert [p.field for p in portability_problems(documents)] == [
        "spec.autoRollback",
        "spec.template.spec.containers[0].workingDir",
    ]
