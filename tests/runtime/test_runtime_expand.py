"""Kubernetes $(VAR) expansion and the values derived from a container spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.manifests.expand import expand
from reconciler.runtime.config import ConfigError, container_config, env_key, image_parts

VARS = {"A": "1", "PORT": "8080", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(A)", "1", id="defined"),
        pytest.param("x$(PORT)y", "x8080y", id="inside text"),
        pytest.param("$(NOPE)", "$(NOPE)", id="unknown left as written"),
        pytest.param("$$(A)", "$(A)", id="escaped"),
        pytest.param("$$$(A)", "$1", id="escaped dollar then variable"),
        pytest.param("$A $", "$A $", id="bare dollars stay"),
        pytest.param("$(A", "$(A", id="unterminated"),
        pytest.param("$(EMPTY)-", "-", id="empty value"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    """Each case follows Kubernetes' expansion rules."""
    assert expand(text, VARS) == expected


@given(st.text(alphabet=st.characters(blacklist_characters="$")))
def test_text_without_dollars_is_unchanged(text: str) -> None:
    """Expansion never touches text without a dollar sign."""
    assert expand(text, VARS) == text


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        pytest.param("demo:1.2", ("demo", "1.2"), id="tag"),
        pytest.param("demo", ("demo", "latest"), id="no tag"),
        pytest.param("registry:5000/team/demo", ("registry:5000/team/demo", "latest"), id="port"),
        pytest.param("demo@sha256:abc", ("demo", "latest"), id="digest"),
    ],
)
def test_image_parts(image: str, parts: tuple[str, str]) -> None:
    """IMAGE_NAME and IMAGE_TAG split at the tag's colon, never at a registry port."""
    assert image_parts(image) == parts


def test_env_key_for_named_ports() -> None:
    """PORT_<NAME> is uppercased with dashes turned into underscores."""
    assert env_key("metrics-http") == "PORT_METRICS_HTTP"


def test_field_refs_and_missing_secrets(tmp_path: Path) -> None:
    """fieldRef to the pod's name works; a Secret the pod has not got is the kubelet's error."""
    variables = {"POD_NAME": "web-1", "POD_NAMESPACE": "default", "POD_IP": "127.0.0.1"}
    spec = {
        "name": "app",
        "command": ["run"],
        "env": [{"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
    }
    config = container_config(spec, variables=variables, labels={}, base_dir=tmp_path, base_env={})
    assert config.env["ME"] == "web-1" and config.cwd == tmp_path
    secret = {
        "name": "app",
        "command": ["run"],
        "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
    }
    with pytest.raises(ConfigError, match=r'^secret "db" not found$'):
        container_config(secret, variables=variables, labels={}, base_dir=tmp_path, base_env={})
