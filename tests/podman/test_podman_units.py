"""The podman runtime's pure parts and the per-pod selection, without podman."""

from __future__ import annotations

import asyncio
import doctest
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifests.load import load_text
from reconciler.manifests.validate import validate_documents
from reconciler.runtime import ContainerState, PodPhase, PodSpec, PodStatus
from reconciler.runtime.podman.host import PodmanUnavailable
from reconciler.runtime.podman.translate import create_args
from reconciler.runtime.select import SelectingRuntime

MODULES = [
    "reconciler.runtime.podman.env",
    "reconciler.runtime.podman.host",
    "reconciler.runtime.podman.images",
    "reconciler.runtime.podman.oom",
    "reconciler.runtime.podman.records",
    "reconciler.runtime.podman.runtime",
    "reconciler.runtime.podman.translate",
    "reconciler.runtime.select",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Every >>> example in the podman runtime's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("container", "command", "args", "expected"),
    [
        pytest.param({}, [], [], ["img"], id="image's ENTRYPOINT and CMD"),
        pytest.param({}, ["/bin/a"], [], ["--entrypoint", '["/bin/a"]', "img"], id="command"),
        pytest.param({}, [], ["-x"], ["img", "-x"], id="args replace CMD only"),
        pytest.param({"workingDir": "/srv"}, [], [], ["--workdir", "/srv", "img"], id="workingDir"),
    ],
)
def test_command_and_args_map_to_entrypoint_and_cmd(
    container: dict[str, Any], command: list[str], args: list[str], expected: list[str]
) -> None:
    """command replaces ENTRYPOINT (dropping CMD), args replaces CMD, as Kubernetes says."""
    assert create_args(container, image="img", env={}, command=command, args=args) == expected


class FakeRuntime:
    """A runtime whose pods are Running at once (or that cannot start at all)."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.started: list[str] = []
        self._callbacks: list[Callable[[PodStatus], None]] = []

    async def start(self) -> None:
        if self.broken:
            raise PodmanUnavailable(
                "error: podman not found: install it, or run with --runtime process"
            )

    async def start_pod(self, spec: PodSpec) -> None:
        self.started.append(spec.name)

    async def stop_pod(self, name: str) -> None:
        self.started.remove(name)

    def pods(self) -> list[PodStatus]:
        return [PodStatus(n, "default", "rs", {}, PodPhase.RUNNING, 0.0, ()) for n in self.started]

    def subscribe(self, callback: Callable[[PodStatus], None]) -> Callable[[], None]:
        self._callbacks.append(callback)
        return lambda: None

    async def close(self) -> None:
        self.started.clear()


def spec(name: str, runtime_class: str | None = None) -> PodSpec:
    pod: dict[str, Any] = {"containers": [{"name": "web", "image": "httpd"}]}
    if runtime_class:
        pod["runtimeClassName"] = runtime_class
    return PodSpec(name, "default", "rs", {}, {"spec": pod}, Path("."))


def test_pods_go_to_the_runtime_their_template_names() -> None:
    """No runtimeClassName: the daemon's default; runtimeClassName: that runtime."""
    process, podman = FakeRuntime(), FakeRuntime()
    selecting = SelectingRuntime("process", {"process": lambda: process, "podman": lambda: podman})

    async def scenario() -> None:
        await selecting.start()
        await selecting.start_pod(spec("a"))
        await selecting.start_pod(spec("b", "podman"))
        await selecting.stop_pod("b")
        await selecting.start_pod(spec("c", "podman"))

    asyncio.run(scenario())
    assert (process.started, podman.started) == (["a"], ["c"])
    assert sorted(p.name for p in selecting.pods()) == ["a", "c"]


def test_a_pod_for_a_runtime_that_cannot_start_waits_saying_why() -> None:
    """podman missing under a process daemon: that pod waits in CreateContainerConfigError
    with the fix, the daemon and its other pods run on; deleting it works."""
    seen: list[PodStatus] = []
    selecting = SelectingRuntime(
        "process", {"process": FakeRuntime, "podman": lambda: FakeRuntime(broken=True)}
    )
    selecting.subscribe(seen.append)

    async def scenario() -> None:
        await selecting.start()
        await selecting.start_pod(spec("a", "podman"))
        await selecting.start_pod(spec("b"))

    asyncio.run(scenario())
    (refused,) = [p for p in selecting.pods() if p.name == "a"]
    container = refused.containers[0]
    assert (container.state, container.reason) == (
        ContainerState.WAITING,
        "CreateContainerConfigError",
    )
    assert container.message == "podman not found: install it, or run with --runtime process"
    asyncio.run(selecting.stop_pod("a"))
    assert [p.name for p in selecting.pods()] == ["b"] and seen[-1].gone


def test_an_unknown_runtime_class_is_refused_by_the_schema() -> None:
    """runtimeClassName takes process or podman; anything else is an error at its field."""
    report = validate_documents(load_text(_deployment("kata"), source="m.yaml").documents)
    assert not report.ok
    assert any("runtimeClassName" in p.field for p in report.problems)


def test_no_command_warning_only_where_the_process_runtime_runs_the_pod() -> None:
    """An image-only container warns (no-command) on the process runtime, not on podman, and
    podman's fields (imagePullPolicy) are not reported as ignored there."""
    process = validate_documents(load_text(_deployment(None), source="m.yaml").documents)
    podman = validate_documents(load_text(_deployment("podman"), source="m.yaml").documents)
    assert {p.rule for p in process.problems} == {"no-command", "unsupported-field"}
    assert podman.problems == [] and podman.ok


def _deployment(runtime_class: str | None) -> str:
    pod: dict[str, Any] = {
        "containers": [{"name": "web", "image": "httpd:2.4", "imagePullPolicy": "IfNotPresent"}]
    }
    if runtime_class:
        pod["runtimeClassName"] = runtime_class
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod},
            },
        }
    )


def test_volumes_become_bind_mounts_of_the_shared_host_volumes(tmp_path: Path) -> None:
    """emptyDir/configMap/secret/hostPath/claim → podman mounts of the host volumes the process
    runtime makes too: a configMap is its volume directory (the ..data swap), read-only, a
    claim is the shared claim directory; a missing ConfigMap is the kubelet's message."""
    from reconciler.runtime import PodConfig
    from reconciler.runtime.config import ConfigError
    from reconciler.runtime.isolation.volumes import claim_dir
    from reconciler.runtime.podman import volumes

    host = tmp_path / "host"
    pod_spec = {
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "ram", "emptyDir": {"medium": "Memory"}},
            {"name": "conf", "configMap": {"name": "app", "items": [{"key": "a", "path": "x/a"}]}},
            {"name": "logs", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "db"}},
        ]
    }
    mounts = [
        {"name": "scratch", "mountPath": "/tmp/s"},
        {"name": "ram", "mountPath": "/run/r"},
        {"name": "conf", "mountPath": "/etc/app"},
        {"name": "logs", "mountPath": "/var/log/app", "readOnly": True},
        {"name": "data", "mountPath": "/data", "subPath": "one"},
    ]
    config = PodConfig(config_maps={"app": {"a": b"1"}})
    state = tmp_path / "state"
    made = volumes.prepare(pod_spec, state_dir=state, config=config, namespace="ns", pod="p")
    pod_dir = volumes.pod_dir(state, "ns", "p")
    assert pod_dir == state / "podman" / "volumes" / "ns" / "p"
    flags = volumes.volume_flags(pod_spec, {"volumeMounts": mounts}, made)
    assert flags == [
        *("--mount", "type=tmpfs,destination=/run/r"),
        *("--volume", f"{pod_dir / 'scratch'}:/tmp/s"),
        *("--volume", f"{pod_dir / 'conf'}:/etc/app:ro"),
        *("--volume", f"{host}:/var/log/app:ro"),
        *("--volume", f"{claim_dir(state, 'ns', 'db') / 'one'}:/data"),
    ]
    assert (pod_dir / "conf" / "..data").is_symlink()
    assert (pod_dir / "conf" / "x" / "a").read_bytes() == b"1"
    assert (pod_dir / "conf" / "x" / "a").stat().st_mode & 0o777 == 0o644
    with pytest.raises(ConfigError, match='volume "conf" : configmap "app" not found'):
        volumes.prepare(pod_spec, state_dir=state, config=PodConfig(), namespace="ns", pod="q")
    with pytest.raises(ConfigError, match='volume "nope" is mounted but not defined'):
        volumes.volume_flags(pod_spec, {"volumeMounts": [{"name": "nope"}]}, made)


def test_export_drops_our_runtime_class_with_a_warning(tmp_path: Path) -> None:
    """runtimeClassName: podman is ours, not a cluster's RuntimeClass: export drops it, warns."""
    import subprocess
    import sys

    (tmp_path / "web.yaml").write_text(_deployment("podman"))
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "export", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "runtimeClassName" not in result.stdout
    assert "spec.template.spec.runtimeClassName: dropped" in result.stderr


def test_pods_adopted_by_a_runtime_are_routed_to_it_replayed_and_left_running() -> None:
    """A runtime named in ``adopt`` starts with the daemon; the pods it adopted go to it
    (stop_pod reaches it), a later subscriber hears of them, and detach leaves them running."""
    process, podman = FakeRuntime(), FakeRuntime()
    podman.started.append("old")  # adopted at start from the previous daemon
    detached: list[bool] = []

    async def detach() -> None:
        detached.append(True)

    podman.detach = detach  # type: ignore[attr-defined]
    selecting = SelectingRuntime(
        "process", {"process": lambda: process, "podman": lambda: podman}, adopt=("podman",)
    )
    seen: list[str] = []

    async def scenario() -> None:
        await selecting.start()
        selecting.subscribe(lambda status: seen.append(status.name))
        await asyncio.sleep(0)
        assert seen == ["old"]
        await selecting.start_pod(spec("new", "podman"))
        await selecting.detach()  # the process runtime has no detach here: it is closed
        assert podman.started == ["old", "new"] and detached == [True]
        await selecting.stop_pod("old")

    asyncio.run(scenario())
    assert podman.started == ["new"]
