"""`reconciler rollout history`: kubectl's exact output, read from the store."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main
from reconciler.cli.history import describe_probe, history_table
from reconciler.store import Store
from tests.store.conftest import WEB, template

NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def _daemon(state_dir: Path) -> Iterator[None]:
    """A live daemon holds the state directory (without one, reads warn; see liveness)."""
    with Store.open(state_dir) as store:
        store.lock_daemon()
        yield


def _record(state_dir: Path, *revisions: tuple[str, str]) -> None:
    with Store.open(state_dir) as store:
        for n, (image, cause) in enumerate(revisions):
            store.record_revision(WEB, template(image), change_cause=cause, now=NOW + n)


def _run(state_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rollout", "history", *args, "--state-dir", os.fspath(state_dir)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_history_table_is_kubectls(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Header with a trailing space, REVISION/CHANGE-CAUSE padded by 2, <none>, blank line."""
    _record(state_dir, ("a", ""), ("b", "reconciler set image deployment/web web=demo:2"))
    code, out, _ = _run(state_dir, capsys, "deployment/web")
    assert code == 0
    assert out == (
        "deployment.apps/web \n"
        "REVISION  CHANGE-CAUSE\n"
        "1         <none>\n"
        "2         reconciler set image deployment/web web=demo:2\n"
        "\n"
    )


def test_rollback_sequence_shows_2_and_3(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rev1 A -> rev2 B -> A: history lists 2 and 3 only."""
    _record(state_dir, ("a", "A"), ("b", "B"), ("a", "back to A"))
    _, out, _ = _run(state_dir, capsys, "deployment/web")
    assert out.splitlines()[1:] == [
        "REVISION  CHANGE-CAUSE",
        "2         B",
        "3         back to A",
        "",
    ]


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(["deployment/web"], id="deployment/NAME"),
        pytest.param(["deploy/web"], id="deploy/NAME"),
        pytest.param(["deployment.apps/web"], id="deployment.apps/NAME"),
        pytest.param(["deployment.v1.apps/web"], id="deployment.v1.apps/NAME"),
        pytest.param(["deployment", "web"], id="deployment NAME"),
    ],
)
def test_resource_spellings(
    state_dir: Path, capsys: pytest.CaptureFixture[str], spelling: list[str]
) -> None:
    """Every kubectl spelling of the deployment names the same history."""
    _record(state_dir, ("a", "x"))
    code, out, _ = _run(state_dir, capsys, *spelling)
    assert (code, out.splitlines()[0]) == (0, "deployment.apps/web ")


def test_namespace_flag(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-n picks the namespace; the default namespace does not have it."""
    from reconciler.objects import Kind, ObjectRef

    with Store.open(state_dir) as store:
        ref = ObjectRef(Kind.DEPLOYMENT, "staging", "api")
        store.record_revision(ref, template("a"), change_cause="s", now=NOW)
    code, out, _ = _run(state_dir, capsys, "deployment/api", "-n", "staging")
    assert code == 0 and "1         s\n" in out
    code, _, err = _run(state_dir, capsys, "deployment/api")
    assert code == 1
    assert err == 'Error from server (NotFound): deployments.apps "api" not found\n'


def test_unknown_deployment(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A deployment the store does not know: kubectl's NotFound, exit 1."""
    code, out, err = _run(state_dir, capsys, "deployment/nope")
    assert (code, out) == (1, "")
    assert err == 'Error from server (NotFound): deployments.apps "nope" not found\n'


def test_no_history(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An applied deployment without ReplicaSets yet: `No rollout history found.`."""
    with Store.open(state_dir) as store:
        store.put_object(ref=WEB, manifest={}, spec={}, source="f", line=1, digest="d", now=NOW)
    code, out, _ = _run(state_dir, capsys, "deployment/web")
    assert (code, out) == (0, "deployment.apps/web \nNo rollout history found.\n")


def test_revision_prints_the_pod_template(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--revision N: DescribePodTemplate with raw tabs, the change cause among annotations."""
    tmpl = template("demo:2")
    container = tmpl["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 8080, "protocol": "TCP"}]
    container["env"] = [{"name": "MODE", "value": "fast"}, {"name": "API_TOKEN", "value": "s3"}]
    container["readinessProbe"] = {
        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    with Store.open(state_dir) as store:
        rs = store.record_revision(WEB, tmpl, change_cause="bump", now=NOW).replicaset
    code, out, _ = _run(state_dir, capsys, "deployment/web", "--revision", "1")
    assert code == 0
    assert out == (
        "deployment.apps/web with revision #1\n"
        "Pod Template:\n"
        f"  Labels:\tapp=web\n\tpod-template-hash={rs.hash}\n"
        "  Annotations:\tkubernetes.io/change-cause: bump\n"
        "  Containers:\n"
        "   web:\n"
        "    Image:\tdemo:2\n"
        "    Port:\t8080/TCP\n"
        "    Host Port:\t0/TCP\n"
        "    Command:\n"
        "      python\n"
        "      -m\n"
        "      http\n"
        "    Readiness:\thttp-get http://:http/healthz delay=0s timeout=1s period=1s "
        "#success=1 #failure=3\n"
        "    Environment:\n"
        "      MODE:\tfast\n"
        "      API_TOKEN:\t<redacted>\n"
        "    Mounts:\t<none>\n"
        "  Volumes:\t<none>\n"
        "  Node-Selectors:\t<none>\n"
        "  Tolerations:\t<none>\n"
        "\n"
    )


def test_missing_revision(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--revision of a number not in history: kubectl's error, exit 1."""
    _record(state_dir, ("a", "A"), ("b", "B"), ("a", "back"))
    code, _, err = _run(state_dir, capsys, "deployment/web", "--revision", "1")
    assert code == 1
    assert err == "error: unable to find the specified revision\n"


def test_output_name_json_yaml(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o name|json|yaml prints the ReplicaSet objects with their revision annotations."""
    _record(state_dir, ("a", "A"), ("b", "B"))
    with Store.open(state_dir) as store:
        names = [rs.name for rs in store.list_replicasets(WEB)]
    _, out, _ = _run(state_dir, capsys, "deployment/web", "-o", "name")
    assert out == "".join(f"replicaset.apps/{n}\n" for n in names)
    _, out, _ = _run(state_dir, capsys, "deployment/web", "-o", "json", "--revision", "2")
    obj = json.loads(out)
    assert obj["kind"] == "ReplicaSet" and obj["metadata"]["name"] == names[1]
    assert obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert obj["metadata"]["annotations"]["kubernetes.io/change-cause"] == "B"
    _, out, _ = _run(state_dir, capsys, "deployment/web", "-o", "yaml")
    docs = list(yaml.safe_load_all(out))
    assert [d["metadata"]["name"] for d in docs] == names


def test_history_table_width_follows_longest_revision() -> None:
    """The first column widens for revision numbers longer than REVISION."""
    assert history_table([(1234567890, "")]) == "REVISION    CHANGE-CAUSE\n1234567890  <none>\n"


@pytest.mark.parametrize(
    ("probe", "text"),
    [
        pytest.param(
            {"exec": {"command": ["cat", "/tmp/ok"]}},
            "exec [cat /tmp/ok] delay=0s timeout=1s period=10s #success=1 #failure=3",
            id="exec",
        ),
        pytest.param(
            {"tcpSocket": {"port": 5432}, "periodSeconds": 0.5},
            "tcp-socket :5432 delay=0s timeout=1s period=0.5s #success=1 #failure=3",
            id="tcp with fractional period",
        ),
    ],
)
def test_describe_probe(probe: dict[str, object], text: str) -> None:
    """DescribeProbe's one-line form."""
    assert describe_probe(probe) == text
