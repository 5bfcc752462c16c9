"""What the translation keeps, adds and renames, beyond the warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.export import (
    ROLLOUT_API_VERSION,
    dump_yaml,
    export_objects,
    file_name,
    port_variable,
    variable_references,
)
from tests.export.conftest import load_documents
from tests.export.test_warnings import deployment

FIXTURES = Path(__file__).parent / "manifests"


def container_of(text: str) -> dict[str, Any]:
    obj = export_objects(load_documents(text)).objects[0].obj
    return dict(obj["spec"]["template"]["spec"]["containers"][0])


def test_ports_become_env_entries_first() -> None:
    """PORT (first port) and PORT_<NAME> are added before the container's own env."""
    container = container_of(
        deployment(
            container="""\
            args: ["--port=$(PORT)"]
            env:
              - {name: URL, value: "http://localhost:$(PORT_METRICS_HTTP)"}
            ports:
              - {name: web, containerPort: 8080}
              - {name: metrics-http, containerPort: 9100}
            """
        )
    )
    assert container["env"] == [
        {"name": "PORT", "value": "8080"},
        {"name": "PORT_WEB", "value": "8080"},
        {"name": "PORT_METRICS_HTTP", "value": "9100"},
        {"name": "URL", "value": "http://localhost:$(PORT_METRICS_HTTP)"},
    ]
    assert container["args"] == ["--port=$(PORT)"], "strings are not rewritten"


def test_ports_are_exported_even_without_references() -> None:
    """Programs that read $PORT themselves keep working: PORT is added for any port."""
    container = container_of(deployment(container="ports: [{containerPort: 3000}]"))
    assert container["env"] == [{"name": "PORT", "value": "3000"}]


def test_user_defined_port_variable_wins() -> None:
    """An env entry the user wrote is never shadowed or duplicated."""
    container = container_of(
        deployment(
            container="""\
            env: [{name: PORT, value: "1234"}]
            ports: [{name: http, containerPort: 3000}]
            """
        )
    )
    assert container["env"] == [
        {"name": "PORT_HTTP", "value": "3000"},
        {"name": "PORT", "value": "1234"},
    ]


@pytest.mark.parametrize(
    ("variable", "entry"),
    [
        pytest.param(
            "POD_NAME",
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            id="pod name",
        ),
        pytest.param(
            "POD_NAMESPACE",
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            id="namespace",
        ),
        pytest.param(
            "POD_IP",
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            id="pod ip",
        ),
        pytest.param("IMAGE", {"name": "IMAGE", "value": "registry:5000/web:1.2"}, id="image"),
        pytest.param(
            "IMAGE_NAME", {"name": "IMAGE_NAME", "value": "registry:5000/web"}, id="image name"
        ),
        pytest.param("IMAGE_TAG", {"name": "IMAGE_TAG", "value": "1.2"}, id="image tag"),
    ],
)
def test_runtime_variables_referenced_are_provided(variable: str, entry: dict[str, Any]) -> None:
    """$(POD_*) come from the downward API, $(IMAGE*) from the image, when referenced."""
    text = deployment(container=f'args: ["$({variable})"]').replace(
        "image: web:1", "image: registry:5000/web:1.2"
    )
    assert container_of(text)["env"] == [entry]


def test_escaped_references_add_nothing() -> None:
    """``$$(POD_NAME)`` is a literal in Kubernetes and locally: no env entry is added."""
    assert "env" not in container_of(deployment(container='args: ["$$(POD_NAME)"]'))


def test_variable_references_and_port_names() -> None:
    """The $(VAR) scanner honours $$ escapes; port names become env-safe upper case."""
    assert variable_references("$(A)$$(B)$$$(C) $(D") == ["A", "C"]
    assert port_variable("metrics-http") == "PORT_METRICS_HTTP"


@pytest.mark.parametrize(
    ("strategy", "body"),
    [
        pytest.param("BlueGreen", {"blueGreen": {"activeService": "web"}}, id="blue-green"),
        pytest.param("Canary", {"canary": {"steps": [{"setWeight": 100}]}}, id="canary"),
    ],
)
def test_extension_strategies_become_rollouts(strategy: str, body: dict[str, Any]) -> None:
    """BlueGreen/Canary Deployments become Argo Rollouts with the same strategy fields."""
    key = next(iter(body))
    text = deployment(
        spec="replicas: 3",
        strategy=f"strategy:\n  type: {strategy}\n  {key}: {_flow(body[key])}",
    )
    obj = export_objects(load_documents(text)).objects[0].obj
    assert (obj["apiVersion"], obj["kind"]) == (ROLLOUT_API_VERSION, "Rollout")
    assert obj["spec"]["strategy"] == body
    assert obj["spec"]["replicas"] == 3


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip()


def test_blue_green_fields_carry_over_unchanged() -> None:
    """Every local blueGreen field keeps its name and value in the Rollout."""
    obj = export_objects(load_documents((FIXTURES / "bluegreen.yaml").read_text())).objects[0].obj
    assert obj["spec"]["strategy"]["blueGreen"] == {
        "activeService": "api",
        "previewService": "api-preview",
        "autoPromotionEnabled": False,
        "autoPromotionSeconds": 30,
        "previewReplicaCount": 1,
        "scaleDownDelaySeconds": 10,
        "abortScaleDownDelaySeconds": 5,
    }


def test_input_objects_are_not_modified() -> None:
    """Translation works on copies: the validator's objects stay as written."""
    documents = load_documents((FIXTURES / "canary.yaml").read_text())
    before = yaml.safe_dump([d.obj for d in documents])
    export_objects(documents)
    assert yaml.safe_dump([d.obj for d in documents]) == before


def test_labels_and_annotations_are_never_converted() -> None:
    """Free-form maps keep their strings even when a key ends in Seconds."""
    text = deployment().replace(
        "  name: web\n", '  name: web\n  annotations: {example.com/timeoutSeconds: "1.5"}\n', 1
    )
    obj = export_objects(load_documents(text)).objects[0].obj
    assert obj["metadata"]["annotations"] == {"example.com/timeoutSeconds": "1.5"}


def test_dump_yaml_is_multi_document_with_sources() -> None:
    """stdout output is one YAML stream; each document says which file it came from."""
    exported = export_objects(load_documents((FIXTURES / "bluegreen.yaml").read_text(), "bg.yaml"))
    text = dump_yaml(exported.objects)
    assert text.count("# Source: bg.yaml\n") == 3
    assert [d["kind"] for d in yaml.safe_load_all(text)] == ["Rollout", "Service", "Service"]
    assert dump_yaml(()) == ""


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        pytest.param(
            {"kind": "Rollout", "metadata": {"name": "api"}}, "rollout-api.yaml", id="plain"
        ),
        pytest.param(
            {"kind": "Service", "metadata": {"name": "web", "namespace": "shop"}},
            "shop-service-web.yaml",
            id="namespaced",
        ),
    ],
)
def test_file_names(obj: dict[str, Any], name: str) -> None:
    """-o DIR writes one <kind>-<name>.yaml per object (namespace first when written)."""
    assert file_name(obj) == name


def test_public_surface() -> None:
    """The module's __all__ is sorted (constants, classes, functions) and names what exists."""
    import reconciler.export as module

    def order(name: str) -> tuple[bool, bool, str]:
        return (not name.isupper(), not name[0].isupper(), name)

    assert module.__all__ == sorted(module.__all__, key=order)
    assert all(hasattr(module, name) for name in module.__all__)


def test_port_variables_are_pod_wide_like_the_local_runtime() -> None:
    """A sidecar without ports sees the pod's first PORT and every PORT_<NAME>, as locally."""
    text = deployment(container="ports: [{name: http, containerPort: 8080}]") + (
        "        - name: sidecar\n"
        "          image: tailer\n"
        '          command: ["tail", "$(IMAGE_TAG)"]\n'
        "          ports: [{name: admin, containerPort: 9090}]\n"
        "        - name: probe\n"
        "          image: probe:2\n"
        '          command: ["probe"]\n'
    )
    obj = export_objects(load_documents(text)).objects[0].obj
    env = {c["name"]: c["env"] for c in obj["spec"]["template"]["spec"]["containers"]}
    named = [{"name": "PORT_HTTP", "value": "8080"}, {"name": "PORT_ADMIN", "value": "9090"}]
    assert env["web"] == [{"name": "PORT", "value": "8080"}, *named]
    assert env["sidecar"] == [
        {"name": "PORT", "value": "9090"},
        *named,
        {"name": "IMAGE_TAG", "value": "latest"},
    ]
    assert env["probe"] == [{"name": "PORT", "value": "8080"}, *named]
