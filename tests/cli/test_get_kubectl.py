"""`get` as kubectl users type it: several types, TYPE/NAME, -A, selectors, printers, -w.

Expected tables follow kubectl's printers (semantics §2: columns, `TYPE/NAME` when several types
are listed, a blank line between types, NAMESPACE first with -A, LABELS last with
--show-labels); error texts are the API server's as kubectl prints them.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_read_world import World, complete_status, world_fixture

__all__ = ["world_fixture"]


def _web(world: World, *, pods: int = 2) -> str:
    world.deployment("web", replicas=pods)
    world.status("web", **complete_status(pods))
    rs = world.revision("web", replicas=pods)
    for i in range(pods):
        world.pod(rs, f"p{i}xyz", port=40000 + i)
    world.service("web", selector={"app": "web"}, port=80, target=8080)
    return rs.name


def _out(world: World, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = world.cli(*argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_several_types_print_one_block_each(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get deploy,svc` prints each type's table, names as TYPE/NAME, a blank line between."""
    _web(world)
    code, out, _ = _out(world, capsys, "get", "deploy,svc")
    assert code == 0
    blocks = out.split("\n\n")
    assert [line.split()[0] for line in blocks[0].splitlines()] == ["NAME", "deployment.apps/web"]
    assert [line.split()[0] for line in blocks[1].splitlines()] == ["NAME", "service/web"]


def test_get_all_lists_pods_services_deployments_replicasets(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get all` is kubectl's category: pods, services, deployments, replicasets, in that order."""
    rs = _web(world)
    _, out, _ = _out(world, capsys, "get", "all")
    names = [line.split()[0] for line in out.splitlines() if line and not line.startswith("NAME")]
    assert names == [
        f"pod/{rs}-p0xyz",
        f"pod/{rs}-p1xyz",
        "service/web",
        "deployment.apps/web",
        f"replicaset.apps/{rs}",
    ]


def test_type_slash_name_several(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`get deployment/web service/web` lists exactly those; a missing one is NotFound, exit 1."""
    _web(world)
    code, out, err = _out(
        world, capsys, "get", "deployment/web", "svc/web", "svc/nope", "-o", "name"
    )
    assert out.split() == ["deployment.apps/web", "service/web"]
    assert err == 'Error from server (NotFound): services "nope" not found\n'
    assert code == 1


def test_all_namespaces_adds_the_namespace_column(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """-A lists every namespace with NAMESPACE first."""
    _web(world)
    _, out, _ = _out(world, capsys, "get", "deployments", "-A", "-n", "elsewhere")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert rows[1][:3] == ["default", "web", "2/2"]


def test_show_labels_no_headers_and_label_columns(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """--show-labels adds LABELS (sorted k=v), -L a column per key, --no-headers no header."""
    rs = _web(world, pods=1)
    _, out, _ = _out(world, capsys, "get", "pods", "--show-labels", "-L", "app")
    header, row = (line.split() for line in out.splitlines())
    assert header[-2:] == ["LABELS", "APP"]
    assert row[-2:] == [f"app=web,pod-template-hash={rs.split('-')[-1]}", "web"]
    _, out, _ = _out(world, capsys, "get", "pods", "--no-headers")
    assert out.split()[0] == f"{rs}-p0xyz"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("app!=web", ["api"], id="not equals"),
        pytest.param("app in (web,db)", ["web"], id="in"),
        pytest.param("app notin (web)", ["api"], id="notin"),
        pytest.param("!tier", ["web"], id="does not exist"),
        pytest.param("tier", ["api"], id="exists"),
    ],
)
def test_label_selectors_of_the_issue(
    world: World, capsys: pytest.CaptureFixture[str], selector: str, expected: list[str]
) -> None:
    """The selectors issue #17 found ignored now pick exactly the matching deployments."""
    world.deployment("web")
    api = world.deployment("api")
    labels = {**api.spec["metadata"]["labels"], "tier": "be"}
    world.store.put_object(
        ref=api.ref,
        manifest=api.manifest,
        spec={**api.spec, "metadata": {**api.spec["metadata"], "labels": labels}},
        source=api.source,
        line=1,
        digest="api2",
        now=world.now,
    )
    _, out, _ = _out(world, capsys, "get", "deploy", "-l", selector, "-o", "name")
    assert out.split() == [f"deployment.apps/{n}" for n in expected]


def test_bad_selector_is_a_bad_request(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A selector the API server refuses: kubectl's BadRequest line, exit 1, nothing listed."""
    _web(world)
    code, out, err = _out(world, capsys, "get", "pods", "-l", "app in web")
    assert (code, out) == (1, "")
    assert err == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
        'selector "app in web", field selector "": unable to parse requirement: found \'web\' '
        "expected: '('\n"
    )


def test_field_selectors(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--field-selector filters on the API's field labels and refuses any other field."""
    rs = _web(world)
    _, out, _ = _out(
        world, capsys, "get", "pods", "--field-selector", f"metadata.name={rs}-p1xyz", "-o", "name"
    )
    assert out.split() == [f"pod/{rs}-p1xyz"]
    _, out, _ = _out(
        world, capsys, "get", "pods", "--field-selector", "status.phase!=Running", "-o", "name"
    )
    assert out == ""
    code, _, err = _out(world, capsys, "get", "deploy", "--field-selector", "spec.replicas=2")
    assert code == 1
    assert err.endswith(
        'field selector "spec.replicas=2": field label not supported: spec.replicas\n'
    )


def test_sort_by(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--sort-by orders by a JSONPath value in kubectl's natural order (web-2 before web-10)."""
    world.deployment("web-10")
    world.deployment("web-2")
    _, out, _ = _out(world, capsys, "get", "deploy", "--sort-by", ".metadata.name", "-o", "name")
    assert out.split() == ["deployment.apps/web-2", "deployment.apps/web-10"]


def test_json_is_a_list_unless_one_object_was_named(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get pods -o json` is a v1 List even for one pod; `get pod NAME -o json` is the pod."""
    rs = _web(world, pods=1)
    _, out, _ = _out(world, capsys, "get", "pods", "-o", "json")
    doc = json.loads(out)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == (
        "List",
        "v1",
        {"resourceVersion": ""},
    )
    assert [i["metadata"]["name"] for i in doc["items"]] == [f"{rs}-p0xyz"]
    _, out, _ = _out(world, capsys, "get", "pod", f"{rs}-p0xyz", "-o", "yaml")
    pod = yaml.safe_load(out)
    assert '  creationTimestamp: "' in out  # sigs.k8s.io/yaml quotes with double quotes
    assert pod["kind"] == "Pod" and pod["spec"]["nodeName"] == "localhost"
    assert [c["type"] for c in pod["status"]["conditions"]] == [
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    _, out, err = _out(world, capsys, "get", "pods", "-n", "empty", "-o", "json")
    assert json.loads(out)["items"] == [] and err == ""


def test_jsonpath_custom_columns_and_go_template(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The template printers see the same List as -o json."""
    rs = _web(world)
    names = f"{rs}-p0xyz {rs}-p1xyz"
    _, out, _ = _out(world, capsys, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
    assert out == names
    template = '{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}'
    _, out, _ = _out(world, capsys, "get", "pods", "-o", f"jsonpath={template}")
    assert out == f"{rs}-p0xyz\t127.0.0.1\n{rs}-p1xyz\t127.0.0.1\n"
    path = tmp_path / "t.jsonpath"
    path.write_text("{.items[0].kind}", encoding="utf-8")
    _, out, _ = _out(world, capsys, "get", "pods", "-o", f"jsonpath-file={path}")
    assert out == "Pod"
    _, out, _ = _out(
        world,
        capsys,
        "get",
        "pods",
        "-o",
        "custom-columns=NAME:.metadata.name,PORT:.spec.containers[*].ports[*].containerPort,NODE:.spec.nope",
    )
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "PORT", "NODE"],
        [f"{rs}-p0xyz", "8080", "<none>"],
        [f"{rs}-p1xyz", "8080", "<none>"],
    ]
    _, out, _ = _out(
        world,
        capsys,
        "get",
        "pods",
        "-o",
        'go-template={{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}',
    )
    assert out.split() == names.split()


def test_unknown_output_format(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown -o names kubectl's allowed formats."""
    _web(world)
    code, _, err = _out(world, capsys, "get", "pods", "-o", "xml")
    assert code == 1
    assert err.startswith('error: unable to match a printer suitable for the output format "xml"')


def test_endpoints_endpointslices_and_namespaces(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get endpoints` shows ready ip:port pairs; `get endpointslices` and `get ns` their tables."""
    _web(world)
    _, out, _ = _out(world, capsys, "get", "endpoints")
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["NAME", "ENDPOINTS"],
        ["web", "127.0.0.1:40000,127.0.0.1:40001"],
    ]
    _, out, _ = _out(world, capsys, "get", "endpointslices")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert sorted(r[2] for r in rows[1:]) == ["40000", "40001"]
    _, out, _ = _out(world, capsys, "get", "ns")
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["NAME", "STATUS"],
        ["default", "Active"],
    ]


def test_get_rs_is_sorted_by_name(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """ReplicaSets list in name order, as the API server lists them."""
    world.deployment("web")
    first = world.revision("web", image="web:1", replicas=0)
    second = world.revision("web", image="web:2", replicas=3)
    _, out, _ = _out(world, capsys, "get", "rs", "-o", "name")
    assert out.split() == sorted(
        [f"replicaset.apps/{first.name}", f"replicaset.apps/{second.name}"]
    )


def test_watch_shows_a_pod_turning_terminating(world: World) -> None:
    """`get pods -w` prints the pod's row again as Terminating once it is being stopped."""
    rs = _web(world, pods=1)
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(world.state_dir)}
    watch = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "get", "pods", "-w"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline().split()[0] == "NAME"
        assert watch.stdout.readline().split()[:3] == [f"{rs}-p0xyz", "1/1", "Running"]
        row = world.store.get_replicaset("default", rs)
        assert row is not None
        world._pods.clear()
        world.pod(row, "p0xyz", port=40000, terminating=True, ready=False)
        ready, _, _ = select.select([watch.stdout], [], [], 10)
        assert ready, "no new row within 10 s"
        assert watch.stdout.readline().split()[:3] == [f"{rs}-p0xyz", "0/1", "Terminating"]
    finally:
        watch.terminate()
        watch.wait(10)


def test_no_resources_message_is_for_tables_only(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """'No resources found' is the table printers' line; -o name prints nothing, custom-columns
    its header (kubectl's generic printers say nothing about an empty list)."""
    assert _out(world, capsys, "get", "pods", "-n", "x", "-o", "name") == (0, "", "")
    code, out, err = _out(world, capsys, "get", "pods", "-n", "x", "-o", "custom-columns=N:.a")
    assert (code, out.split(), err) == (0, ["N"], "")
    code, out, err = _out(world, capsys, "get", "pods", "-n", "x", "-A")
    assert (code, out, err) == (0, "", "No resources found\n")


def test_watch_prints_objects_not_a_list(world: World) -> None:
    """`get pods -w -o json` prints each object on its own, as kubectl's watch does."""
    _web(world, pods=1)
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(world.state_dir)}
    watch = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "get", "pods", "-w", "-o", "jsonpath={.kind} "],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert watch.stdout is not None
        assert watch.stdout.read(4) == "Pod "
    finally:
        watch.terminate()
        watch.wait(10)


def test_one_missing_object_prints_only_the_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get pod nope -o json` prints the NotFound error and no empty List, exit 1."""
    code, out, err = _out(world, capsys, "get", "pod", "nope", "-o", "json")
    assert (code, out, err) == (1, "", 'Error from server (NotFound): pods "nope" not found\n')
