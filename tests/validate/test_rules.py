"""Every rule of the validator: one valid and one invalid case each, with the field it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from validate_factory import deployment, dump, service

from reconciler.errors import Severity
from reconciler.manifests.load import load_text
from reconciler.manifests.validate import Report, validate_documents
from reconciler.objects import Kind, ObjectRef

Mutation = Callable[[dict[str, Any]], None]


def check(*objects: dict[str, Any], strict: bool = False) -> Report:
    return validate_documents(load_text(dump(*objects), source="m.yaml").documents, strict=strict)


def found(report: Report, severity: Severity = Severity.ERROR) -> set[tuple[str, str]]:
    return {(p.rule, p.field) for p in report.problems if p.severity is severity}


def container(obj: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return c


def rolling(obj: dict[str, Any]) -> dict[str, Any]:
    r: dict[str, Any] = obj["spec"]["strategy"]["rollingUpdate"]
    return r


def test_base_manifests_are_valid() -> None:
    """The builders' Deployment and Service are valid with no warning."""
    report = check(deployment(), service())
    assert report.problems == []
    assert report.ok
    assert {o.ref for o in report.objects} == {
        ObjectRef(Kind.DEPLOYMENT, "default", "web"),
        ObjectRef(Kind.SERVICE, "default", "web"),
    }


def _set(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


C = "spec.template.spec.containers.0"
INVALID: list[Any] = [
    pytest.param(_set("spec.replicas", "three"), "schema", "spec.replicas", id="schema type"),
    pytest.param(_set("spec.replica", 3), "unknown-field", "spec.replica", id="unknown field"),
    pytest.param(
        _delete(f"{C}.image"),
        "schema",
        "spec.template.spec.containers[0].image",
        id="required image",
    ),
    pytest.param(_set("spec.strategy.type", "Rolling"), "schema", "spec.strategy.type", id="enum"),
    pytest.param(_set("kind", "Deploymnet"), "kind", "kind", id="unsupported kind"),
    pytest.param(
        _set("apiVersion", "apps/v1beta1"), "removed-api", "apiVersion", id="removed apiVersion"
    ),
    pytest.param(
        _set("spec.template.metadata.labels", {"app": "other"}),
        "selector",
        "spec.template.metadata.labels",
        id="selector mismatch",
    ),
    pytest.param(_set("spec.selector", {}), "selector", "spec.selector", id="empty selector"),
    pytest.param(
        _set("spec.strategy.rollingUpdate.maxSurge", "0%"),
        "max-surge-unavailable",
        "spec.strategy.rollingUpdate.maxUnavailable",
        id="surge and unavailable zero",
    ),
    pytest.param(
        _set("spec.strategy.rollingUpdate.maxSurge", "25"),
        "percent",
        "spec.strategy.rollingUpdate.maxSurge",
        id="percent string",
    ),
    pytest.param(
        _set("spec.strategy.rollingUpdate.maxUnavailable", "150%"),
        "percent",
        "spec.strategy.rollingUpdate.maxUnavailable",
        id="unavailable over 100%",
    ),
    pytest.param(
        _set("spec.minReadySeconds", 700),
        "progress-deadline",
        "spec.progressDeadlineSeconds",
        id="deadline not above minReady",
    ),
    pytest.param(
        _set("spec.strategy.type", "Recreate"),
        "strategy",
        "spec.strategy.rollingUpdate",
        id="rollingUpdate with Recreate",
    ),
    pytest.param(_set("metadata.name", "Web_1"), "name", "metadata.name", id="dns name"),
    pytest.param(
        _set(f"{C}.name", "Web"),
        "name",
        "spec.template.spec.containers[0].name",
        id="container dns label",
    ),
    pytest.param(
        _set(f"{C}.ports.0.name", "http--x"),
        "name",
        "spec.template.spec.containers[0].ports[0].name",
        id="port name",
    ),
    pytest.param(
        _set("metadata.labels", {"app": "-bad-"}), "labels", "metadata.labels.app", id="label value"
    ),
    pytest.param(
        lambda o: container(o)["ports"].append({"name": "http", "containerPort": 81}),
        "duplicate-name",
        "spec.template.spec.containers[0].ports[1].name",
        id="duplicate port name",
    ),
    pytest.param(
        lambda o: o["spec"]["template"]["spec"]["containers"].append({**container(o), "ports": []}),
        "duplicate-name",
        "spec.template.spec.containers[1].name",
        id="duplicate container name",
    ),
    pytest.param(
        _set(f"{C}.readinessProbe.httpGet.port", "htp"),
        "probe-port",
        "spec.template.spec.containers[0].readinessProbe.httpGet.port",
        id="probe port name",
    ),
    pytest.param(
        _set(f"{C}.readinessProbe", {"periodSeconds": 1}),
        "probe",
        "spec.template.spec.containers[0].readinessProbe",
        id="probe without handler",
    ),
    pytest.param(
        _set(f"{C}.livenessProbe", {"tcpSocket": {"port": "http"}, "exec": {"command": ["true"]}}),
        "probe",
        "spec.template.spec.containers[0].livenessProbe.tcpSocket",
        id="two handlers",
    ),
    pytest.param(
        _set("spec.template.spec.restartPolicy", "Never"),
        "schema",
        "spec.template.spec.restartPolicy",
        id="restartPolicy",
    ),
]


@pytest.mark.parametrize(("mutate", "rule", "field"), INVALID)
def test_invalid_deployment(mutate: Mutation, rule: str, field: str) -> None:
    """Each broken Deployment is invalid, with the rule and the field that say why."""
    obj = deployment()
    mutate(obj)
    report = check(obj)
    assert (rule, field) in found(report), report.problems
    assert not report.ok
    assert report.objects == [] or rule == "kind"


VALID: list[Any] = [
    pytest.param(
        _set("spec.strategy.rollingUpdate", {"maxSurge": "30%", "maxUnavailable": "100%"}),
        id="percent strings",
    ),
    pytest.param(
        _set("spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": "1%"}),
        id="surge zero unavailable one percent",
    ),
    pytest.param(
        _set(
            "spec.selector",
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
        ),
        id="matchExpressions selector",
    ),
    pytest.param(_set("spec.minReadySeconds", 10), id="minReady below deadline"),
    pytest.param(lambda o: o["spec"].update(strategy={"type": "Recreate"}), id="Recreate alone"),
    pytest.param(_set("metadata.name", "web.v2-a"), id="dns subdomain name"),
    pytest.param(_set(f"{C}.readinessProbe.httpGet.port", 8080), id="probe port number"),
    pytest.param(
        _set(f"{C}.readinessProbe", {"exec": {"command": ["true"]}, "periodSeconds": 0.5}),
        id="exec probe with fractional period",
    ),
    pytest.param(_set("spec.autoRollback", True), id="autoRollback"),
]


@pytest.mark.parametrize("mutate", VALID)
def test_valid_deployment(mutate: Mutation) -> None:
    """Variants that Kubernetes accepts are valid here too."""
    obj = deployment()
    mutate(obj)
    report = check(obj)
    assert found(report) == set(), report.problems
    assert len(report.objects) == 1


def test_unknown_field_suggests_the_near_miss() -> None:
    """`replica` -> did you mean "replicas"?"""
    obj = deployment()
    obj["spec"]["replica"] = 3
    (problem,) = check(obj).problems
    assert problem.message == 'unknown field "replica"; did you mean "replicas"?'


def test_a_schema_error_does_not_hide_the_api_server_rules() -> None:
    """One run reports a typo *and* a selector that matches nothing, each once."""
    obj = deployment()
    obj["spec"]["replica"] = 3
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    rolling(obj)["maxSurge"] = [1]
    assert found(check(obj)) == {
        ("unknown-field", "spec.replica"),
        ("selector", "spec.template.metadata.labels"),
        ("schema", "spec.strategy.rollingUpdate.maxSurge"),  # not also the percent rule
    }


def test_schema_message_and_position() -> None:
    """Schema errors read as the issue shows and point at the offending key."""
    text = dump(deployment()).replace("replicas: 2", "replicas: three")
    report = validate_documents(load_text(text, source="web.yaml").documents)
    (problem,) = report.problems
    line = text.splitlines().index("  replicas: three") + 1
    assert problem.render() == (
        f"web.yaml:{line}:3: error: spec.replicas: 'three' is not of type 'integer' (schema)"
    )


def test_unsupported_fields_warn_and_strict_fails() -> None:
    """Fields Kubernetes knows but this runtime ignores warn; --strict makes them errors."""
    obj = deployment()
    container(obj)["imagePullPolicy"] = "Always"
    obj["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    report = check(obj)
    assert found(report, Severity.WARNING) == {
        ("unsupported-field", "spec.template.spec.containers[0].imagePullPolicy"),
        ("unsupported-field", "spec.template.spec.nodeSelector"),
    }
    assert report.ok and len(report.objects) == 1
    strict = check(obj, strict=True)
    assert not strict.ok and strict.objects == []


def test_missing_command_warns() -> None:
    """A container without command is valid Kubernetes but cannot run locally: a warning."""
    obj = deployment()
    del container(obj)["command"]
    report = check(obj)
    (problem,) = report.problems
    assert (problem.severity, problem.rule) == (Severity.WARNING, "no-command")
    assert "spec.template.spec.containers[0].command" in problem.message
    assert report.ok


def blue_green(active: str = "web-active", preview: str | None = "web-preview") -> dict[str, Any]:
    obj = deployment()
    block: dict[str, Any] = {"activeService": active}
    if preview:
        block["previewService"] = preview
    obj["spec"]["strategy"] = {"type": "BlueGreen", "blueGreen": block}
    return obj


def canary(steps: list[Any]) -> dict[str, Any]:
    obj = deployment()
    obj["spec"]["strategy"] = {
        "type": "Canary",
        "canary": {"steps": steps, "stableService": "web-stable", "canaryService": "web-canary"},
    }
    return obj


def test_blue_green_with_its_services_is_valid() -> None:
    """BlueGreen naming two Services that select its pods is valid."""
    report = check(blue_green(), service("web-active", 18091), service("web-preview", 18092))
    assert report.problems == [] and len(report.objects) == 3


def test_blue_green_missing_service_is_an_error() -> None:
    """A BlueGreen activeService that is not among the manifests makes the Deployment invalid."""
    report = check(blue_green(preview=None))
    assert found(report) == {("strategy-service", "spec.strategy.blueGreen.activeService")}
    assert ObjectRef(Kind.DEPLOYMENT, "default", "web") in report.invalid


def test_service_not_selecting_the_pods_invalidates_both() -> None:
    """A strategy Service that selects other pods: both objects are invalid, each located."""
    other = service("web-active", 18091)
    other["spec"]["selector"] = {"app": "api"}
    report = check(blue_green(preview=None), other)
    assert found(report) == {
        ("strategy-service", "spec.strategy.blueGreen.activeService"),
        ("strategy-service", "spec.selector"),
    }
    assert len(report.invalid) == 2


def test_blue_green_requires_its_block_and_forbids_others() -> None:
    """type BlueGreen needs blueGreen; canary with type BlueGreen is forbidden."""
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "BlueGreen", "canary": {}}
    assert found(check(obj)) == {
        ("strategy", "spec.strategy.blueGreen"),
        ("strategy", "spec.strategy.canary"),
    }


STEPS_INVALID: list[Any] = [
    pytest.param(
        [{"setWeight": 120}],
        "schema",
        "spec.strategy.canary.steps[0].setWeight",
        id="weight over 100",
    ),
    pytest.param(
        [{"pause": {"duration": "10x"}}],
        "duration",
        "spec.strategy.canary.steps[0].pause.duration",
        id="bad duration",
    ),
    pytest.param(
        [{"setWeight": 10, "pause": {}}],
        "canary-step",
        "spec.strategy.canary.steps[0]",
        id="two kinds in one step",
    ),
    pytest.param([{}], "canary-step", "spec.strategy.canary.steps[0]", id="empty step"),
]


@pytest.mark.parametrize(("steps", "rule", "field"), STEPS_INVALID)
def test_invalid_canary_steps(steps: list[Any], rule: str, field: str) -> None:
    """Canary steps: exactly one of setWeight (0..100) or pause with a well-formed duration."""
    services = (service("web-stable", 18091), service("web-canary", 18092))
    assert (rule, field) in found(check(canary(steps), *services))


def test_valid_canary_steps() -> None:
    """Weights 0 and 100, pauses with number, string and no duration are all valid."""
    steps = [{"setWeight": 0}, {"pause": {"duration": 10}}, {"setWeight": 100},
             {"pause": {"duration": "5m"}}, {"pause": {}}]  # fmt: skip
    obj = canary(steps)
    obj["spec"]["strategy"]["canary"]["analysis"] = {"httpGet": {"path": "/", "port": "http"},
                                                     "interval": "1h"}  # fmt: skip
    report = check(obj, service("web-stable", 18091), service("web-canary", 18092))
    assert report.problems == []


def test_duplicate_objects_report_both_locations() -> None:
    """The same (kind, namespace, name) twice: both invalid, each naming the other's line."""
    report = check(deployment(), deployment())
    problems = [p for p in report.problems if p.rule == "duplicate-object"]
    assert len(problems) == 2
    assert f"m.yaml:{problems[1].line}:" in problems[0].message
    assert report.objects == []


def test_target_port_name_must_exist_on_selected_pods() -> None:
    """A Service targetPort name the selected pods do not declare: both objects invalid."""
    svc = service()
    svc["spec"]["ports"][0]["targetPort"] = "web"
    report = check(deployment(), svc)
    assert found(report) == {
        ("target-port", "spec.ports[0].targetPort"),
        ("target-port", "spec.template.spec.containers"),
    }


def test_service_selecting_no_deployment_warns() -> None:
    """A selector typo: a warning at the Service; alone (no Deployment to compare) it is quiet."""
    svc = service()
    svc["spec"]["selector"] = {"app": "wbe"}
    report = check(deployment(), svc)
    assert found(report, Severity.WARNING) == {("selects-nothing", "spec.selector")}
    assert report.ok
    assert found(check(svc), Severity.WARNING) == set()


def test_service_of_an_invalid_deployment_gets_no_selects_nothing_warning() -> None:
    """The Deployment fails the schema but its labels match: the Service is not warned about."""
    web = deployment()
    web["spec"]["replicas"] = "three"
    other = deployment()
    other["metadata"]["name"] = "other"
    other["spec"]["selector"]["matchLabels"] = {"app": "other"}
    other["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    report = check(web, other, service())
    assert ("schema", "spec.replicas") in found(report)
    assert found(report, Severity.WARNING) == set()


def test_two_services_on_one_port() -> None:
    """Two Services listening on one port: both invalid."""
    report = check(deployment(), service("a", 18093), service("b", 18093))
    assert found(report) == {("port-conflict", "spec.ports[0].port")}
    assert len(report.invalid) == 2


@pytest.mark.parametrize(
    ("mutate", "rule", "field"),
    [
        pytest.param(_set("spec.ports.0.port", 70000), "schema", "spec.ports[0].port", id="range"),
        pytest.param(_set("metadata.name", "1web"), "name", "metadata.name", id="dns-1035"),
        pytest.param(
            lambda s: s["spec"]["ports"].append({"port": 18094}),
            "service-port",
            "spec.ports[1].name",
            id="names required with two ports",
        ),
        pytest.param(
            _set("spec.sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 5}}),
            "service-port",
            "spec.sessionAffinityConfig",
            id="affinity config alone",
        ),
    ],
)
def test_invalid_service(mutate: Mutation, rule: str, field: str) -> None:
    """Broken Services are invalid with the rule and field."""
    svc = service()
    mutate(svc)
    assert (rule, field) in found(check(deployment(), svc))


def test_valid_service_with_affinity() -> None:
    """ClientIP affinity with a timeout is valid."""
    svc = service()
    svc["spec"]["sessionAffinity"] = "ClientIP"
    svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 600}}
    assert check(deployment(), svc).problems == []


def test_valid_object_carries_digest_and_source() -> None:
    """Valid objects are returned as written with a canonical digest."""
    (first,) = check(deployment()).objects
    (second,) = check(deployment()).objects
    assert first.digest == second.digest and first.source == "m.yaml" and first.line == 1
    assert "strategy" in first.obj["spec"] and "revisionHistoryLimit" not in first.obj["spec"]
