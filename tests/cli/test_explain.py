"""``explain``: kubectl's plaintext layout over the schemas the folder is validated against."""

from __future__ import annotations

import pytest

from reconciler.cli import main


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_a_primitive_field(capsys: pytest.CaptureFixture[str]) -> None:
    """A leaf: KIND, VERSION, `FIELD:    name <type>`, the description with its constraints."""
    assert _explain(capsys, "deployment.spec.replicas") == (
        0,
        "KIND:     Deployment\n"
        "VERSION:  apps/v1\n"
        "\n"
        "FIELD:    replicas <integer>\n"
        "\n"
        "DESCRIPTION:\n"
        "     Number of desired pods. Defaults to 1. Minimum: 0.\n",
        "",
    )


def test_explain_an_object_lists_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """An object: `RESOURCE:`, then FIELDS with kubectl's type words, -required- and texts."""
    code, out, _ = _explain(capsys, "deploy.spec.template.spec.containers")
    assert code == 0
    assert out.startswith(
        "KIND:     Deployment\nVERSION:  apps/v1\n\nRESOURCE: containers <[]Object>\n\n"
        "DESCRIPTION:\n     List of containers belonging to the pod."
    )
    assert "\nFIELDS:\n   name\t<string> -required-\n     Name of the container" in out
    assert "\n   command\t<[]string>\n" in out
    assert "\n   ports\t<[]Object>\n" in out


def test_explain_recursive_is_the_field_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """--recursive: names and types only, three spaces deeper per level."""
    code, out, _ = _explain(capsys, "service.spec", "--recursive")
    assert code == 0
    fields = out.split("FIELDS:\n", 1)[1]
    assert "   ports\t<[]Object> -required-\n      name\t<string>\n      port\t<integer>" in fields
    assert "   selector\t<map[string]string>\n" in fields
    assert all("\t<" in line for line in fields.splitlines())  # no description lines


def test_explain_pod_is_the_pod_template(capsys: pytest.CaptureFixture[str]) -> None:
    """`explain pods` explains a pod as a Deployment's template defines it (v1 Pod)."""
    code, out, _ = _explain(capsys, "pods.spec.containers.ports", "--recursive")
    assert code == 0
    assert out.startswith("KIND:     Pod\nVERSION:  v1\n\nRESOURCE: ports <[]Object>\n")
    assert "   containerPort\t<integer> -required-\n" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["deployment.spec.nope"],
            'error: field "nope" does not exist in deployment.spec\n',
            id="unknown field",
        ),
        pytest.param(
            ["replicasets"],
            "error: replicasets are made by the reconciler, not written in manifests; explain "
            "one of: pod, deployment, service, configmap, secret\n",
            id="a kind without a manifest",
        ),
    ],
)
def test_explain_errors(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    """What cannot be explained says why (exit 1)."""
    assert _explain(capsys, *argv) == (1, "", expected)
