"""``validate --lint``: each check fires on its fixture and is silenced by its annotation."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from validate_factory import deployment, dump, service

from reconciler.errors import Severity
from reconciler.manifests.lint import CHECKS
from reconciler.manifests.load import load_text
from reconciler.manifests.validate import IGNORE_ANNOTATION, Options, validate_documents


def good() -> dict[str, Any]:
    """A Deployment that passes every check."""
    obj = deployment()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 20}
    container["resources"] = {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"},
    }
    obj["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True}
    return obj


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def latest(obj: dict[str, Any]) -> None:
    _container(obj)["image"] = "demo:latest"


def no_readiness(obj: dict[str, Any]) -> None:
    del _container(obj)["readinessProbe"]


def same_probes(obj: dict[str, Any]) -> None:
    _container(obj)["livenessProbe"] = copy.deepcopy(_container(obj)["readinessProbe"])


def no_limits(obj: dict[str, Any]) -> None:
    del _container(obj)["resources"]["limits"]


def no_requests(obj: dict[str, Any]) -> None:
    del _container(obj)["resources"]["requests"]


def root(obj: dict[str, Any]) -> None:
    del obj["spec"]["template"]["spec"]["securityContext"]


def privileged(obj: dict[str, Any]) -> None:
    _container(obj)["securityContext"] = {"privileged": True}


def host_network(obj: dict[str, Any]) -> None:
    obj["spec"]["template"]["spec"]["hostNetwork"] = True


def canary(obj: dict[str, Any], *, pause: object = 30, deadline: int | None = None) -> None:
    obj["spec"]["replicas"] = 4
    obj["spec"]["strategy"] = {
        "type": "Canary",
        "canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": pause}}]},
    }
    if deadline is not None:
        obj["spec"]["progressDeadlineSeconds"] = deadline


def canary_weight(obj: dict[str, Any]) -> None:
    canary(obj)
    obj["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 10


def long_pause(obj: dict[str, Any]) -> None:
    canary(obj, pause="15m", deadline=600)


BLUE_GREEN = {"type": "BlueGreen", "blueGreen": {"activeService": "web", "previewService": "web"}}

Fixture = Callable[[dict[str, Any]], None]
CASES: dict[str, tuple[Fixture, str]] = {
    "latest-tag": (latest, "spec.template.spec.containers[0].image"),
    "no-readiness-probe": (no_readiness, "spec.template.spec.containers[0].readinessProbe"),
    "liveness-equals-readiness": (same_probes, "spec.template.spec.containers[0].livenessProbe"),
    "no-resource-limits": (no_limits, "spec.template.spec.containers[0].resources.limits"),
    "no-resource-requests": (no_requests, "spec.template.spec.containers[0].resources.requests"),
    "run-as-non-root": (root, "spec.template.spec.containers[0].securityContext.runAsNonRoot"),
    "privileged": (privileged, "spec.template.spec.containers[0].securityContext.privileged"),
    "host-namespace": (host_network, "spec.template.spec.hostNetwork"),
    "canary-weight-unrealisable": (canary_weight, "spec.strategy.canary.steps[0].setWeight"),
    "progress-deadline-pause": (long_pause, "spec.progressDeadlineSeconds"),
}


def lint(*objects: dict[str, Any], strict: bool = False) -> list[tuple[str, str, Severity]]:
    documents = load_text(dump(*objects), source="m.yaml").documents
    report = validate_documents(documents, strict=strict, options=Options(lint=True))
    ids = {check.id for check in CHECKS}
    return [(p.rule, p.field, p.severity) for p in report.problems if p.rule in ids]


def test_the_good_fixture_passes_every_check() -> None:
    """The baseline of the fixtures has no lint finding, so each case below tests one check."""
    assert lint(good(), service()) == []


@pytest.mark.parametrize("check", sorted(CASES))
def test_each_check_fires_and_its_annotation_silences_it(check: str) -> None:
    """A fixture breaking one practice gets that check's warning; the annotation removes it."""
    obj = good()
    mutate, field = CASES[check]
    mutate(obj)
    assert (check, field, Severity.WARNING) in lint(obj, service())
    assert (check, field, Severity.ERROR) in lint(obj, service(), strict=True)
    obj["metadata"]["annotations"] = {IGNORE_ANNOTATION: f"other-check, {check}"}
    assert [f for f in lint(obj, service()) if f[0] == check] == []


def test_service_selecting_nothing_fires_and_is_silenced() -> None:
    """A Service whose selector matches no workload of its namespace is reported, once."""
    svc = service()
    svc["spec"]["selector"] = {"app": "wbe"}
    found = lint(good(), svc)
    assert found == [("service-selects-nothing", "spec.selector", Severity.WARNING)]
    svc["metadata"]["annotations"] = {IGNORE_ANNOTATION: "service-selects-nothing"}
    assert lint(good(), svc) == []


def test_blue_green_preview_that_is_the_active_service_fires_and_is_silenced() -> None:
    """previewService equal to activeService is reported at previewService."""
    obj = good()
    obj["spec"]["strategy"] = copy.deepcopy(BLUE_GREEN)
    found = lint(obj, service())
    field = "spec.strategy.blueGreen.previewService"
    assert ("bluegreen-preview-is-active", field, Severity.WARNING) in found
    obj["metadata"]["annotations"] = {IGNORE_ANNOTATION: "bluegreen-preview-is-active"}
    assert not [f for f in lint(obj, service()) if f[0] == "bluegreen-preview-is-active"]


def test_blue_green_preview_selecting_another_workloads_pods_fires() -> None:
    """A preview Service whose selector also matches another Deployment's pods is reported."""
    obj = good()
    obj["spec"]["strategy"] = copy.deepcopy(BLUE_GREEN)
    obj["spec"]["strategy"]["blueGreen"]["previewService"] = "preview"
    obj["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"] = False
    other = good()
    other["metadata"]["name"] = "old"
    preview = service("preview", 18091)
    documents = load_text(dump(obj, other, service(), preview), source="m.yaml").documents
    report = validate_documents(documents, options=Options(lint=True))
    messages = [p.message for p in report.problems if p.rule == "bluegreen-preview-is-active"]
    assert messages and 'Deployment "old"' in messages[0]


def test_checks_apply_to_every_kind_with_pods_and_list_checks_lists_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A StatefulSet is linted like a Deployment; --list-checks names every id."""
    from reconciler.cli import main

    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres"}]},
            },
        },
    }
    found = {rule for rule, _, _ in lint(sts)}
    assert {"latest-tag", "no-readiness-probe", "run-as-non-root"} <= found
    assert main(["validate", "--list-checks", "-o", "json"]) == 0
    listed = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert listed == [check.id for check in CHECKS]
    assert len(set(listed)) == len(listed) == 12
