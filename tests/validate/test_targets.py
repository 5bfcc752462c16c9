"""``validate`` targets, every built-in kind, CRDs, deprecations and exit codes (in-process CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from validate_factory import deployment, dump, service

from reconciler.cli import main
from reconciler.manifests.kindcheck import LOCAL_RULES
from reconciler.manifests.load import load_paths
from reconciler.manifests.validate import validate_documents

CLUSTER = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: info
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: nginx
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: busybox:1.36
              args: ["sh", "-c", "date"]
"""

INGRESS_TYPO = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
    - host: shop.example.com
      htpp:
        paths: []
"""

WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
spec:
  size: 3
"""


def cluster_deployment() -> dict[str, Any]:
    """A Deployment as written for a cluster: no command, UDP port, a NodePort Service."""
    obj = deployment()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    del container["command"]
    container["ports"].append({"name": "dns", "containerPort": 5353, "protocol": "UDP"})
    return obj


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path,
        *args: str) -> tuple[int, str]:  # fmt: skip
    monkeypatch.chdir(cwd)
    code = main(["validate", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A cluster repository: ConfigMap, Ingress, HPA, CronJob, Deployment and two Services."""
    other = service("other", 18090)  # the same port as "web": fine on a cluster
    other["spec"]["type"] = "NodePort"
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    (tmp_path / "app.yaml").write_text(dump(cluster_deployment(), service(), other))
    return tmp_path


def test_kubernetes_target_accepts_a_cluster_repository_and_says_nothing_local(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ConfigMap, Ingress, HPA, CronJob, Deployment and Service pass, with no local finding."""
    code, out = cli(monkeypatch, capsys, repo, "--target", "kubernetes", "-o", "json", ".")
    document = json.loads(out)
    assert code == 0, out
    assert document["summary"]["errors"] == 0
    assert document["summary"]["valid"] == document["summary"]["resources"] == 7
    assert not [p for p in document["problems"] if p["rule"] in LOCAL_RULES], out
    assert "local" not in out.replace("localhost", "")
    code, text = cli(monkeypatch, capsys, repo, "--target", "kubernetes=1.30", "--verbose", ".")
    assert code == 0
    assert "local" not in text and "ignores" not in text


def test_default_target_warns_locally_and_reports_the_ignored_kinds_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon's target keeps its warnings and says once that it ignores the other kinds."""
    code, out = cli(monkeypatch, capsys, repo, ".")
    assert code == 1  # two Services on one host port: an error on this host
    assert "(port-conflict)" in out and "(no-command)" in out
    ignored = [line for line in out.splitlines() if line.startswith("info:")]
    assert len(ignored) == 1
    assert "(CronJob 1, HorizontalPodAutoscaler 1, Ingress 1)" in ignored[0]  # it runs ConfigMaps


def test_ingress_typo_is_caught_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown Ingress field is an error at its own line and column, with a suggestion."""
    (tmp_path / "ingress.yaml").write_text(INGRESS_TYPO)
    for target in ("local", "kubernetes"):
        code, out = cli(monkeypatch, capsys, tmp_path, "--target", target, "ingress.yaml")
        assert code == 1
        assert (
            'ingress.yaml:8:7: error: spec.rules[0].htpp: unknown field "htpp"; did you mean '
            '"http"? (unknown-field)'
        ) in out


def test_a_crd_kind_errors_unless_missing_schemas_are_ignored_or_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No schema for a custom resource is an error; --ignore-missing-schemas and schemas fix it."""
    (tmp_path / "widget.yaml").write_text(WIDGET)
    code, out = cli(monkeypatch, capsys, tmp_path, "widget.yaml")
    assert code == 1 and "widget.yaml:2:1: error: kind: no schema for example.com/v1" in out
    assert cli(monkeypatch, capsys, tmp_path, "--ignore-missing-schemas", "widget.yaml")[0] == 0
    assert cli(monkeypatch, capsys, tmp_path, "--skip", "Widget", "widget.yaml")[0] == 0
    schemas = tmp_path / "schemas"
    (schemas / "example.com").mkdir(parents=True)
    size = {"properties": {"size": {"type": "string"}}}
    strict = {"type": "object", "properties": {"spec": size}}
    (schemas / "example.com" / "widget_v1.json").write_text(json.dumps(strict))
    for location in ("schemas", "schemas/{{ .Group }}/{{ .ResourceKind }}_{{.ResourceAPIVersion}}"
                     ".json", "schemas/example.com/widget_v1.json"):  # fmt: skip
        code, out = cli(monkeypatch, capsys, tmp_path, "--schema-location", location, "widget.yaml")
        assert code == 1 and "widget.yaml:6:3: error: spec.size: 3 is not of type 'string'" in out


def test_a_typo_in_a_builtin_kind_is_never_taken_for_a_custom_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """apps/v1 "Deploymnet" is an error with a suggestion, even with --ignore-missing-schemas."""
    (tmp_path / "d.yaml").write_text("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n")
    code, out = cli(monkeypatch, capsys, tmp_path, "--ignore-missing-schemas", "d.yaml")
    assert code == 1 and 'did you mean "Deployment"?' in out


@pytest.mark.parametrize(
    ("api_version", "kind", "version", "severity", "replacement"),
    [
        ("extensions/v1beta1", "Ingress", "1.25", "error", "networking.k8s.io/v1"),
        ("batch/v1beta1", "CronJob", "1.25", "error", "batch/v1"),
        ("policy/v1beta1", "PodSecurityPolicy", "1.25", "error", "no replacement"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "error", "autoscaling/v2"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.25", "warning", "autoscaling/v2"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.30", "warning", "/v1"),
    ],
)
def test_deprecated_and_removed_api_versions_for_the_target_version(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api_version: str,
    kind: str,
    version: str,
    severity: str,
    replacement: str,
) -> None:
    """A removed apiVersion is an error and a deprecated one a warning, naming the replacement."""
    (tmp_path / "x.yaml").write_text(f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{}}\n")
    code, out = cli(monkeypatch, capsys, tmp_path, f"--target=kubernetes={version}", "x.yaml")
    rule = "removed-api" if severity == "error" else "deprecated-api"
    line = next(line for line in out.splitlines() if f"({rule})" in line)
    assert line.startswith(f"x.yaml:1:1: {severity}: apiVersion: {api_version} {kind}")
    assert replacement in line
    if severity == "error":
        assert code == 1


def test_repeated_warnings_are_one_line_per_rule_unless_verbose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning in many files is one counted line; --verbose lists each."""
    for index in range(3):
        obj = cluster_deployment()
        obj["metadata"]["name"] = f"web{index}"
        (tmp_path / f"d{index}.yaml").write_text(dump(obj))
    code, out = cli(monkeypatch, capsys, tmp_path, ".")
    assert code == 0
    lines = [line for line in out.splitlines() if "no-command" in line]
    assert len(lines) == 1 and "no-command: 3 times in 3 files, first d0.yaml:" in lines[0]
    assert "Warnings: 6" in out  # 3 no-command + 3 UDP ports
    code, out = cli(monkeypatch, capsys, tmp_path, "--verbose", ".")
    assert len([line for line in out.splitlines() if "(no-command)" in line]) == 3


def test_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unbundled Kubernetes version or a missing schema location is a usage error."""
    (tmp_path / "x.yaml").write_text(WIDGET)
    assert cli(monkeypatch, capsys, tmp_path, "--target", "kubernetes=1.2", "x.yaml")[0] == 2
    assert cli(monkeypatch, capsys, tmp_path, "--schema-location", "nowhere", "x.yaml")[0] == 2
    with pytest.raises(SystemExit):
        main(["validate", "--target", "openshift", "x.yaml"])


def test_the_daemon_loads_a_cluster_repository_and_ignores_what_it_does_not_run(
    repo: Path,
) -> None:
    """The daemon keeps the kinds it runs (Deployments, Services, ConfigMaps) and ignores the
    rest, with no error."""
    (repo / "widget.yaml").write_text(WIDGET)
    (repo / "app.yaml").write_text(dump(deployment(), service()))
    report = validate_documents(load_paths([repo]).documents)
    assert report.ok, report.problems
    assert sorted(o.ref.display for o in report.objects) == [
        "configmap/settings",
        "deployment.apps/web",
        "service/web",
    ]
    assert sorted(i.kind for i in report.ignored) == [
        "CronJob",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Widget",
    ]
    assert not [i for i in report.ignored if i.kind == "Widget" and i.validated]


def test_an_exported_rollout_passes_the_built_in_rollout_schema_and_a_typo_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """export's Argo Rollout validates under --target kubernetes; a misspelt field is caught."""
    from reconciler.export import dump_yaml, export_objects

    canary = deployment()
    canary["spec"]["replicas"] = 4
    canary["spec"]["strategy"] = {
        "type": "Canary",
        "canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": 30}}]},
    }
    (tmp_path / "canary.yaml").write_text(dump(canary))
    documents = load_paths([tmp_path / "canary.yaml"]).documents
    exported = export_objects(documents)
    text = dump_yaml(exported.objects)
    assert "kind: Rollout" in text
    (tmp_path / "rollout.yaml").write_text(text)
    code, out = cli(monkeypatch, capsys, tmp_path, "--target", "kubernetes", "rollout.yaml")
    assert code == 0, out
    (tmp_path / "rollout.yaml").write_text(text.replace("setWeight", "setWieght"))
    code, out = cli(monkeypatch, capsys, tmp_path, "--target", "kubernetes", "rollout.yaml")
    assert code == 1 and 'unknown field "setWieght"; did you mean "setWeight"?' in out


def test_export_warnings_of_kubernetes_target_match_exporting_every_object() -> None:
    """Translating only the objects that use a local extension loses no export warning."""
    from reconciler.cli.export import Located
    from reconciler.cli.validate import export_problems
    from reconciler.export import portability_problems
    from reconciler.manifests.validate import validate_paths

    folders = [Path(__file__).resolve().parents[1] / "export" / "manifests"]
    folders.append(Path(__file__).resolve().parents[1] / "export" / "traffic")
    folders.append(Path(__file__).resolve().parents[2] / "manifests")
    for folder in folders:
        report = validate_paths([folder])
        everything = portability_problems([Located(o, o.document) for o in report.objects])
        assert everything, folder  # the folders use local extensions: the test can fail
        assert export_problems(report, version="1.37") == everything
