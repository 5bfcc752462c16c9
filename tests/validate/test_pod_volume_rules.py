"""Volumes, volumeMounts and resources: the API server's rules, and the host's warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from validate_factory import deployment, dump

from reconciler.errors import Severity
from reconciler.manifests import podrules
from reconciler.manifests.load import load_text
from reconciler.manifests.validate import Report, validate_documents

Mutation = Callable[[dict[str, Any]], None]
HOST_OK = {"cgroups": "v1", "cgroup_problem": "", "mount_namespace": True, "mount_problem": ""}


@pytest.fixture(autouse=True)
def _capable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule tests do not depend on the machine they run on."""
    monkeypatch.setattr(podrules, "_host", lambda: HOST_OK)


def check(obj: dict[str, Any]) -> Report:
    return validate_documents(load_text(dump(obj), source="m.yaml").documents, strict=False)


def found(report: Report, severity: Severity = Severity.ERROR) -> set[tuple[str, str]]:
    return {(p.rule, p.field) for p in report.problems if p.severity is severity}


def with_volumes(
    *volumes: dict[str, Any],
    mounts: list[dict[str, Any]] | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obj = deployment()
    pod = obj["spec"]["template"]["spec"]
    pod["volumes"] = list(volumes)
    container = pod["containers"][0]
    if mounts is not None:
        container["volumeMounts"] = mounts
    if resources is not None:
        container["resources"] = resources
    return obj


C0 = "spec.template.spec.containers[0]"
V0 = "spec.template.spec.volumes[0]"


def test_every_supported_volume_kind_is_valid() -> None:
    """configMap (items, modes), secret, emptyDir (Memory, sizeLimit), hostPath, a claim."""
    obj = with_volumes(
        {
            "name": "a",
            "configMap": {
                "name": "c",
                "defaultMode": 0o644,
                "items": [{"key": "k", "path": "d/k.conf", "mode": 0o600}],
            },
        },
        {"name": "b", "secret": {"secretName": "s", "optional": True}},
        {"name": "c", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "d", "hostPath": {"path": "/srv", "type": "DirectoryOrCreate"}},
        {"name": "e", "persistentVolumeClaim": {"claimName": "data"}},
        mounts=[{"name": n, "mountPath": f"/m/{n}"} for n in "abcde"],
        resources={"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"memory": "32Mi"}},
    )
    assert check(obj).problems == []


@pytest.mark.parametrize(
    ("obj", "rule", "field"),
    [
        pytest.param(with_volumes({"name": "a"}), "volume-source", V0, id="no source"),
        pytest.param(
            with_volumes({"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}),
            "volume",
            f"{V0}.hostPath",
            id="two sources",
        ),
        pytest.param(
            with_volumes({"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}),
            "volume-name",
            "spec.template.spec.volumes[1].name",
            id="duplicate name",
        ),
        pytest.param(
            with_volumes({"name": "A_b", "emptyDir": {}}),
            "volume-name",
            f"{V0}.name",
            id="name not a DNS label",
        ),
        pytest.param(
            with_volumes({"name": "a", "configMap": {"name": "c", "defaultMode": 0o1000}}),
            "volume-mode",
            f"{V0}.configMap.defaultMode",
            id="mode past 0777",
        ),
        pytest.param(
            with_volumes(
                {
                    "name": "a",
                    "secret": {"secretName": "s", "items": [{"key": "k", "path": "/abs"}]},
                }
            ),
            "volume-path",
            f"{V0}.secret.items[0].path",
            id="absolute item path",
        ),
        pytest.param(
            with_volumes({"name": "a", "configMap": {}}),
            "volume-source",
            f"{V0}.configMap.name",
            id="configMap without a name",
        ),
        pytest.param(
            with_volumes({"name": "a", "persistentVolumeClaim": {"claimName": "Data_1"}}),
            "volume-name",
            f"{V0}.persistentVolumeClaim.claimName",
            id="claim name",
        ),
        pytest.param(
            with_volumes({"name": "a", "emptyDir": {}}, mounts=[{"name": "b", "mountPath": "/x"}]),
            "volume-mount",
            f"{C0}.volumeMounts[0].name",
            id="mount of an undeclared volume",
        ),
        pytest.param(
            with_volumes({"name": "a", "emptyDir": {}}, mounts=[{"name": "a", "mountPath": "x"}]),
            "volume-mount",
            f"{C0}.volumeMounts[0].mountPath",
            id="relative mountPath",
        ),
        pytest.param(
            with_volumes(
                {"name": "a", "emptyDir": {}},
                mounts=[{"name": "a", "mountPath": "/x"}, {"name": "a", "mountPath": "/x/"}],
            ),
            "volume-mount",
            f"{C0}.volumeMounts[1].mountPath",
            id="mountPath twice",
        ),
        pytest.param(
            with_volumes(resources={"limits": {"memory": "50MB"}}),
            "quantity",
            f"{C0}.resources.limits.memory",
            id="not a quantity",
        ),
        pytest.param(
            with_volumes(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}}),
            "resources",
            f"{C0}.resources.requests.cpu",
            id="request above limit",
        ),
    ],
)
def test_invalid_volumes_and_resources_name_the_field(
    obj: dict[str, Any], rule: str, field: str
) -> None:
    """Each broken case is an error at the field the API server would name."""
    assert (rule, field) in found(check(obj))


def test_request_above_limit_uses_the_api_servers_words() -> None:
    """``must be less than or equal to cpu limit of 1``, as ValidateResourceRequirements."""
    report = check(with_volumes(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}))
    assert [p.message for p in report.problems] == [
        'Invalid value: "2": must be less than or equal to cpu limit of 1'
    ]


def test_a_host_without_cgroups_or_mount_namespaces_is_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Limits and mounts that this host cannot honour are warnings naming why — never silence."""
    monkeypatch.setattr(
        podrules,
        "_host",
        lambda: {
            "cgroups": "",
            "cgroup_problem": "/sys/fs/cgroup/memory is not writable",
            "mount_namespace": False,
            "mount_problem": "cannot create a mount namespace",
        },
    )
    obj = with_volumes(
        {"name": "cfg", "emptyDir": {}},
        mounts=[{"name": "cfg", "mountPath": "/etc/app"}],
        resources={"limits": {"memory": "50Mi"}},
    )
    report = check(obj)
    warnings = {p.field: p.message for p in report.problems if p.severity is Severity.WARNING}
    assert report.ok
    assert warnings == {
        f"{C0}.resources.limits": "resources.limits are not enforced on this host: "
        "/sys/fs/cgroup/memory is not writable",
        f"{C0}.volumeMounts[0]": "volume 'cfg' cannot be mounted at its mountPath on this host: "
        "cannot create a mount namespace; the container finds its host path in $VOLUME_CFG "
        "instead",
    }


def test_unsupported_volume_types_are_a_warning() -> None:
    """A projected volume is accepted with a warning that its mounts stay empty."""
    report = check(with_volumes({"name": "p", "projected": {"sources": []}}))
    assert report.ok
    assert found(report, Severity.WARNING) == {("unsupported-volume", f"{V0}.projected")}
