"""The environment a container gets: each source, their order, the kubelet's errors, and never
the daemon's own environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests.podenv import (
    DEFAULT_PATH,
    ConfigError,
    PodFacts,
    base_environment,
    container_env,
    parse_quantity,
    service_variables,
)
from reconciler.runtime import PodConfig
from reconciler.runtime.config import container_config

CONFIG = PodConfig(
    config_maps={"app": {"GREETING": b"hello", "mode": b"fast", "9lives": b"x", "a.b": b"y"}},
    secrets={"db": {"password": b"hunter2"}},
    services={"WEB_SERVICE_HOST": "127.0.0.1", "WEB_SERVICE_PORT": "8080"},
)
FACTS = PodFacts(
    name="web-abc",
    namespace="shop",
    labels={"app": "web"},
    annotations={"team": "core"},
    pod_ip="127.0.0.1",
    node_name="host1",
    containers=[
        {"name": "web", "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}},
        {"name": "side"},
    ],
)


def env_of(container: dict[str, Any], config: PodConfig = CONFIG) -> dict[str, str]:
    return container_env(
        {"name": "web", **container}, pod=FACTS, config=config, variables={"PORT": "20001"}
    )


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        pytest.param({"configMapKeyRef": {"name": "app", "key": "mode"}}, "fast", id="configmap"),
        pytest.param({"secretKeyRef": {"name": "db", "key": "password"}}, "hunter2", id="secret"),
        pytest.param({"fieldRef": {"fieldPath": "metadata.name"}}, "web-abc", id="name"),
        pytest.param({"fieldRef": {"fieldPath": "metadata.namespace"}}, "shop", id="namespace"),
        pytest.param({"fieldRef": {"fieldPath": "metadata.labels['app']"}}, "web", id="label"),
        pytest.param(
            {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}, "core", id="annotation"
        ),
        pytest.param({"fieldRef": {"fieldPath": "metadata.labels['nope']"}}, "", id="no label"),
        pytest.param({"fieldRef": {"fieldPath": "status.podIP"}}, "127.0.0.1", id="pod ip"),
        pytest.param({"fieldRef": {"fieldPath": "spec.nodeName"}}, "host1", id="node name"),
        pytest.param(
            {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            "64",
            id="memory limit in Mi",
        ),
        pytest.param({"resourceFieldRef": {"resource": "limits.cpu"}}, "1", id="cpu rounds up"),
        pytest.param(
            {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}, "500", id="millis"
        ),
        pytest.param(
            {"resourceFieldRef": {"resource": "requests.memory"}},
            str(64 * 2**20),
            id="request defaults to the limit",
        ),
        pytest.param(
            {"resourceFieldRef": {"containerName": "side", "resource": "requests.cpu"}},
            "0",
            id="another container's unset request",
        ),
    ],
)
def test_value_from(value_from: dict[str, Any], expected: str) -> None:
    """Each valueFrom source resolves as the kubelet resolves it."""
    assert env_of({"env": [{"name": "X", "valueFrom": value_from}]})["X"] == expected


def test_unset_limit_is_the_node_capacity() -> None:
    """A limits.cpu the container does not set is the node's CPU count."""
    env = env_of({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {
        "containerName": "side", "resource": "limits.cpu"}}}]})  # fmt: skip
    assert env["X"] == str(os.cpu_count())


def test_env_from_prefix_skips_invalid_keys_and_env_wins() -> None:
    """envFrom adds every valid key with its prefix (others skipped); env overrides envFrom."""
    env = env_of(
        {
            "envFrom": [{"configMapRef": {"name": "app"}, "prefix": "CFG_"}],
            "env": [{"name": "CFG_mode", "value": "slow"}],
        }
    )
    assert env["CFG_GREETING"] == "hello" and env["CFG_mode"] == "slow"
    assert env["CFG_9lives"] == "x"  # valid once prefixed
    assert env["CFG_a.b"] == "y"
    unprefixed = env_of({"envFrom": [{"configMapRef": {"name": "app"}}]})
    assert "9lives" not in unprefixed and unprefixed["GREETING"] == "hello"


def test_order_of_sources_and_expansion() -> None:
    """Service variables < pod variables < envFrom < env; $(VAR) sees all of them."""
    env = env_of(
        {
            "envFrom": [{"secretRef": {"name": "db"}}],
            "env": [
                {"name": "URL", "value": "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"},
                {"name": "DSN", "value": "pw=$(password) port=$(PORT) $(UNKNOWN)"},
            ],
        }
    )
    assert env["URL"] == "http://127.0.0.1:8080/"
    assert env["DSN"] == "pw=hunter2 port=20001 $(UNKNOWN)"


@pytest.mark.parametrize(
    ("container", "message"),
    [
        pytest.param(
            {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "k"}}}]},
            "couldn't find key k in ConfigMap shop/app",
            id="missing configmap key",
        ),
        pytest.param(
            {
                "env": [
                    {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}
                ]
            },
            'configmap "gone" not found',
            id="missing configmap",
        ),
        pytest.param(
            {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}}]},
            "couldn't find key user in Secret shop/db",
            id="missing secret key",
        ),
        pytest.param(
            {"envFrom": [{"secretRef": {"name": "gone"}}]},
            'secret "gone" not found',
            id="missing envFrom secret",
        ),
    ],
)
def test_missing_references_are_the_kubelets_errors(
    container: dict[str, Any], message: str
) -> None:
    """A missing object or key raises ConfigError with the kubelet's words."""
    with pytest.raises(ConfigError) as caught:
        env_of(container)
    assert str(caught.value) == message


OPT = {"optional": True}


def test_optional_references_to_missing_things_leave_the_variable_unset() -> None:
    """optional: true on a missing object or key: no error, no variable."""
    env = env_of(
        {
            "envFrom": [{"configMapRef": {"name": "gone", "optional": True}}],
            "env": [
                {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "u", **OPT}}},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k", **OPT}}},
            ],
        }
    )  # fmt: skip
    assert "A" not in env and "B" not in env


def test_service_variables() -> None:
    """Each Service gives the docker-links variables, named after the Service and its ports."""
    found = service_variables([("web-api", "127.0.0.1", [("http", 80, "TCP"), ("", 81, "TCP")])])
    assert found["WEB_API_SERVICE_HOST"] == "127.0.0.1"
    assert found["WEB_API_SERVICE_PORT"] == "80"
    assert found["WEB_API_SERVICE_PORT_HTTP"] == "80"
    assert found["WEB_API_PORT"] == "tcp://127.0.0.1:80"
    assert found["WEB_API_PORT_81_TCP_ADDR"] == "127.0.0.1"
    assert found["WEB_API_PORT_81_TCP_PORT"] == "81"
    assert found["WEB_API_PORT_81_TCP_PROTO"] == "tcp"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("100m", "0.100", id="milli"),
        pytest.param("1Gi", str(2**30), id="binary"),
        pytest.param("2k", "2000", id="decimal"),
        pytest.param(3, "3", id="number"),
    ],
)
def test_quantities(text: object, value: str) -> None:
    """Kubernetes quantities parse to their numeric value."""
    assert parse_quantity(text) == parse_quantity(value)


def test_container_gets_a_minimal_base_never_the_daemons_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATH (the running Python first), HOME and HOSTNAME; a daemon variable does not leak."""
    monkeypatch.setenv("DAEMON_TOKEN", "do-not-leak")
    config = container_config(
        {"name": "web", "command": ["python3"]},
        variables={"POD_NAME": "web-abc", "POD_NAMESPACE": "default", "POD_IP": "127.0.0.1"},
        labels={},
        base_dir=tmp_path,
    )
    assert "DAEMON_TOKEN" not in config.env
    assert config.env["HOSTNAME"] == "web-abc"
    assert config.env["HOME"] == base_environment("x")["HOME"]
    assert config.env["PATH"] == os.path.dirname(sys.executable) + os.pathsep + DEFAULT_PATH
    assert set(config.env) == {
        "PATH", "HOME", "HOSTNAME", "POD_NAME", "POD_NAMESPACE", "POD_IP",
    }  # fmt: skip


def test_pod_config_never_shows_a_value() -> None:
    """The repr of a PodConfig (log lines, tracebacks) names objects, never values."""
    assert "hunter2" not in repr(CONFIG) and "db" in repr(CONFIG)
