"""Volumes at their mountPath on the process runtime, with real processes and mounts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from isolation_helpers import cgroup_dirs, isolated_pod, mounts_under, require_isolation
from runtime_helpers import container, pod_of, py, run_with_runtime, wait_until

from reconciler.runtime import ContainerState, PodConfig
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone

pytestmark = pytest.mark.usefixtures("_needs_isolation")

CONFIG = PodConfig(
    config_maps={"app-config": {"app.conf": b"color=blue\n", "other": b"x"}},
    secrets={"db": {"password": b"s3cret"}},
)


@pytest.fixture
def _needs_isolation() -> None:
    require_isolation()


def _report(out: Path, *paths: str) -> str:
    """A container that writes what it sees at ``paths`` (content, mode) to ``out``, then waits."""
    return (
        "import json, os, time\n"
        "seen = {}\n"
        f"for p in {list(paths)!r}:\n"
        "    try:\n"
        "        seen[p] = [open(p).read(), oct(os.stat(p).st_mode & 0o777)]\n"
        "    except OSError as e:\n"
        "        seen[p] = str(e)\n"
        f"json.dump(seen, open({str(out)!r} + '.tmp', 'w')); os.rename({str(out)!r} + '.tmp', "
        f"{str(out)!r})\n"
        "time.sleep(60)\n"
    )


def test_config_map_and_secret_files_appear_at_a_mount_path_the_host_lacks(
    state_dir: Path, tmp_path: Path
) -> None:
    """items pick keys and paths, defaultMode and item modes apply, /etc/config stays off-host."""
    assert not os.path.exists("/etc/config")
    out = tmp_path / "seen.json"
    spec = isolated_pod(
        "web-1",
        container(
            "app",
            **py(
                _report(out, "/etc/config/conf/app.conf", "/etc/secret/password", "/etc/hostname")
            ),
            volumeMounts=[
                {"name": "config", "mountPath": "/etc/config"},
                {"name": "creds", "mountPath": "/etc/secret"},
            ],
        ),
        base_dir=tmp_path,
        volumes=[
            {
                "name": "config",
                "configMap": {
                    "name": "app-config",
                    "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 0o640}],
                },
            },
            {"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400}},
        ],
        config=CONFIG,
    )

    async def scenario(rt: ProcessRuntime) -> dict[str, object]:
        await rt.start_pod(spec)
        await wait_until(out.exists, timeout=10)
        seen: dict[str, object] = json.loads(out.read_text())
        await rt.stop_pod("web-1")
        await wait_gone(rt, "web-1")
        return seen

    seen = run_with_runtime(state_dir, scenario)
    assert seen["/etc/config/conf/app.conf"] == ["color=blue\n", "0o640"]
    assert seen["/etc/secret/password"] == ["s3cret", "0o400"]
    assert seen["/etc/hostname"][0] == Path("/etc/hostname").read_text()  # /etc is still /etc
    assert not os.path.exists("/etc/config") and not os.path.exists("/etc/secret")


def test_empty_dir_is_shared_by_the_containers_of_a_pod_and_removed_with_it(
    state_dir: Path, tmp_path: Path
) -> None:
    """One container writes /scratch/note, the other reads it; memory-backed too; then gone."""
    out = tmp_path / "read.txt"
    writer = container(
        "writer",
        **py(
            "import time; open('/scratch/note', 'w').write('hi'); open('/mem/n', 'w').write('m');"
            " time.sleep(60)"
        ),
        volumeMounts=[
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "mem", "mountPath": "/mem"},
        ],
    )
    reader = container(
        "reader",
        **py(
            "import os, time\n"
            "while not (os.path.exists('/data/note') and os.path.exists('/m/n')):\n"
            "    time.sleep(0.02)\n"
            f"open({str(out)!r}, 'w').write(open('/data/note').read() + open('/m/n').read())\n"
            "time.sleep(60)\n"
        ),
        volumeMounts=[
            {"name": "scratch", "mountPath": "/data"},
            {"name": "mem", "mountPath": "/m"},
        ],
    )
    spec = isolated_pod(
        "web-2",
        writer,
        reader,
        base_dir=tmp_path,
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        ],
    )

    async def scenario(rt: ProcessRuntime) -> list[str]:
        await rt.start_pod(spec)
        await wait_until(lambda: out.exists() and out.read_text(), timeout=10)
        during = mounts_under(state_dir)
        await rt.stop_pod("web-2")
        await wait_gone(rt, "web-2")
        return during

    during = run_with_runtime(state_dir, scenario)
    assert out.read_text() == "him"
    assert any(point.endswith("/web-2/mem") for point in during)  # the tmpfs, while it ran
    assert mounts_under(state_dir) == []
    assert not (state_dir / "volumes" / "default" / "web-2").exists()
    assert not os.path.exists("/scratch") and not os.path.exists("/data")


def test_config_map_volume_is_updated_in_place_atomically(state_dir: Path, tmp_path: Path) -> None:
    """A reader polling the file sees the old value, then the new one, never a torn or empty one."""
    out = tmp_path / "values.txt"
    spec = isolated_pod(
        "web-3",
        container(
            "app",
            **py(
                "import time\n"
                f"log = open({str(out)!r}, 'a', buffering=1)\n"
                "while True:\n"
                "    log.write(repr(open('/etc/app/app.conf').read()) + '\\n')\n"
                "    time.sleep(0.002)\n"
            ),
            volumeMounts=[{"name": "config", "mountPath": "/etc/app"}],
        ),
        base_dir=tmp_path,
        volumes=[{"name": "config", "configMap": {"name": "app-config"}}],
        config=CONFIG,
    )
    newer = PodConfig(config_maps={"app-config": {"app.conf": b"color=green\n"}})

    async def scenario(rt: ProcessRuntime) -> list[str]:
        await rt.start_pod(spec)
        await wait_until(lambda: out.exists() and "blue" in out.read_text(), timeout=10)
        changed = await rt.update_pod_config("web-3", newer)
        await wait_until(lambda: "green" in out.read_text(), timeout=5)
        again = await rt.update_pod_config("web-3", newer)
        await rt.stop_pod("web-3")
        await wait_gone(rt, "web-3")
        return [*changed, *again]

    assert run_with_runtime(state_dir, scenario) == ["config"]  # the second update: no change
    values = set(out.read_text().splitlines())
    assert values == {repr("color=blue\n"), repr("color=green\n")}


def test_a_claims_directory_outlives_its_pod(state_dir: Path, tmp_path: Path) -> None:
    """What a pod writes to its persistentVolumeClaim is there for the next pod of the claim."""

    def pod(name: str, code: str) -> object:
        return isolated_pod(
            name,
            container("app", **py(code), volumeMounts=[{"name": "d", "mountPath": "/var/lib/app"}]),
            base_dir=tmp_path,
            volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "app-data"}}],
        )

    out = tmp_path / "second.txt"
    first = pod("web-4", "import time; open('/var/lib/app/kept', 'w').write('v1'); time.sleep(60)")
    second = pod(
        "web-5",
        f"import time; open({str(out)!r}, 'w').write(open('/var/lib/app/kept').read()); "
        "time.sleep(60)",
    )
    claim = state_dir / "persistentvolumeclaims" / "default" / "app-data"

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(first)  # type: ignore[arg-type]
        await wait_until(lambda: (claim / "kept").exists(), timeout=10)
        await rt.stop_pod("web-4")
        await wait_gone(rt, "web-4")
        await rt.start_pod(second)  # type: ignore[arg-type]
        await wait_until(out.exists, timeout=10)
        await rt.stop_pod("web-5")
        await wait_gone(rt, "web-5")

    run_with_runtime(state_dir, scenario)
    assert out.read_text() == "v1"
    assert (claim / "kept").read_text() == "v1"
    assert not os.path.exists("/var/lib/app")


def test_host_path_and_read_only_mounts(state_dir: Path, tmp_path: Path) -> None:
    """A hostPath is the host's directory; readOnly refuses writes inside the container."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in").write_text("from host")
    out = tmp_path / "out.txt"
    code = (
        "import time\n"
        "got = open('/srv/h/in').read()\n"
        "try:\n"
        "    open('/srv/h/new', 'w')\n"
        "    got += ' writable'\n"
        "except OSError as e:\n"
        "    got += ' ' + type(e).__name__\n"
        f"open({str(out)!r}, 'w').write(got)\n"
        "time.sleep(60)\n"
    )
    spec = isolated_pod(
        "web-6",
        container(
            "app", **py(code), volumeMounts=[{"name": "h", "mountPath": "/srv/h", "readOnly": True}]
        ),
        base_dir=tmp_path,
        volumes=[{"name": "h", "hostPath": {"path": str(shared), "type": "Directory"}}],
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(spec)
        await wait_until(out.exists, timeout=10)
        await rt.stop_pod("web-6")
        await wait_gone(rt, "web-6")

    run_with_runtime(state_dir, scenario)
    assert out.read_text() == "from host OSError"
    assert shared.is_dir() and (shared / "in").exists()  # a hostPath is never removed


def test_missing_config_map_waits_with_the_kubelets_message(
    state_dir: Path, tmp_path: Path
) -> None:
    """A volume of a ConfigMap that does not exist: CreateContainerConfigError, nothing started."""
    spec = isolated_pod(
        "web-7",
        container(
            "app",
            **py("import time; time.sleep(60)"),
            volumeMounts=[{"name": "config", "mountPath": "/etc/app"}],
        ),
        base_dir=tmp_path,
        volumes=[{"name": "config", "configMap": {"name": "absent"}}],
    )

    async def scenario(rt: ProcessRuntime) -> tuple[str, str]:
        await rt.start_pod(spec)
        pod = await wait_until(
            lambda: (
                (p := pod_of(rt, "web-7"))
                and p.containers[0].reason not in ("", "ContainerCreating")
                and p
            ),
            timeout=5,
        )
        state = pod.containers[0]
        await rt.stop_pod("web-7")
        await wait_gone(rt, "web-7")
        assert state.state is ContainerState.WAITING
        return state.reason, state.message

    reason, message = run_with_runtime(state_dir, scenario)
    assert reason == "CreateContainerConfigError"
    assert message == 'MountVolume.SetUp failed for volume "config" : configmap "absent" not found'


def test_nothing_is_left_on_the_host_after_the_pod(state_dir: Path, tmp_path: Path) -> None:
    """No mount, no volume directory and no cgroup of the state directory once the pod is gone."""
    spec = isolated_pod(
        "web-8",
        container(
            "app",
            **py("import time; time.sleep(60)"),
            volumeMounts=[{"name": "m", "mountPath": "/opt/nowhere/x"}],
            resources={"limits": {"memory": "64Mi", "cpu": "500m"}},
        ),
        base_dir=tmp_path,
        volumes=[{"name": "m", "emptyDir": {"medium": "Memory"}}],
    )

    async def scenario(rt: ProcessRuntime) -> tuple[int, int]:
        await rt.start_pod(spec)
        await wait_until(
            lambda: (p := pod_of(rt, "web-8")) and p.containers[0].state is ContainerState.RUNNING
        )
        seen = len(cgroup_dirs(state_dir)), len(mounts_under(state_dir))
        await rt.stop_pod("web-8")
        await wait_gone(rt, "web-8")
        return seen

    cgroups_during, mounts_during = run_with_runtime(state_dir, scenario)
    assert cgroups_during >= 1 and mounts_during == 1
    assert cgroup_dirs(state_dir) == []
    assert mounts_under(state_dir) == []
    assert not (state_dir / "volumes").exists()
    assert not os.path.exists("/opt/nowhere")


def test_exec_enters_the_containers_mounts(state_dir: Path, tmp_path: Path) -> None:
    """exec (a separate process, as the CLI is) sees the volume and runs a script from it."""
    import subprocess
    import sys

    config = PodConfig(
        config_maps={"tools": {"hello.sh": b"#!/bin/sh\necho hello from $POD_NAME\n"}}
    )
    spec = isolated_pod(
        "web-9",
        container(
            "app",
            **py("import time; time.sleep(60)"),
            volumeMounts=[{"name": "tools", "mountPath": "/opt/tools"}],
        ),
        base_dir=tmp_path,
        volumes=[{"name": "tools", "configMap": {"name": "tools", "defaultMode": 0o755}}],
        config=config,
    )
    run = (
        "import sys; from pathlib import Path; from reconciler.runtime.exec import exec_in_pod; "
        "sys.exit(exec_in_pod(Path(sys.argv[1]), 'default', 'web-9', None, sys.argv[2:], "
        "tty=False))"
    )

    def exec_(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", run, str(state_dir), *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    async def scenario(rt: ProcessRuntime) -> list[subprocess.CompletedProcess[str]]:
        import asyncio

        await rt.start_pod(spec)
        await wait_until(
            lambda: (p := pod_of(rt, "web-9")) and p.containers[0].state is ContainerState.RUNNING
        )
        results = [
            await asyncio.to_thread(exec_, "/opt/tools/hello.sh"),
            await asyncio.to_thread(exec_, "sh", "-c", "ls /opt/tools"),
        ]
        await rt.stop_pod("web-9")
        await wait_gone(rt, "web-9")
        return results

    script, listing = run_with_runtime(state_dir, scenario)
    assert (script.returncode, script.stdout) == (0, "hello from web-9\n"), script.stderr
    assert listing.stdout == "hello.sh\n"
    assert not os.path.exists("/opt/tools")


def test_a_script_from_a_config_map_runs_as_the_command_in_its_working_dir(
    state_dir: Path, tmp_path: Path
) -> None:
    """command /opt/app/run.sh (mode 0755) and workingDir /opt/app exist only in the container."""
    out = tmp_path / "out.txt"
    config = PodConfig(
        config_maps={"app": {"run.sh": f"#!/bin/sh\npwd > {out}\nexec sleep 60\n".encode()}}
    )
    spec = isolated_pod(
        "web-10",
        container(
            "app",
            command=["/opt/app/run.sh"],
            workingDir="/opt/app",
            volumeMounts=[{"name": "app", "mountPath": "/opt/app"}],
        ),
        base_dir=tmp_path,
        volumes=[{"name": "app", "configMap": {"name": "app", "defaultMode": 0o755}}],
        config=config,
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(spec)
        await wait_until(out.exists, timeout=10)
        await rt.stop_pod("web-10")
        await wait_gone(rt, "web-10")

    run_with_runtime(state_dir, scenario)
    assert out.read_text() == "/opt/app\n"
    assert not os.path.exists("/opt/app")


def test_exec_probes_and_pre_stop_run_in_the_containers_mounts(
    state_dir: Path, tmp_path: Path
) -> None:
    """A readiness probe reads a file that only exists at the mountPath; preStop writes through
    a mountPath into a hostPath the host then holds."""
    out = tmp_path / "out"
    out.mkdir()
    spec = isolated_pod(
        "web-11",
        container(
            "app",
            **py("import time; time.sleep(60)"),
            volumeMounts=[
                {"name": "cfg", "mountPath": "/etc/probe-cfg"},
                {"name": "out", "mountPath": "/srv/probe-out"},
            ],
            readinessProbe={
                "exec": {"command": ["cat", "/etc/probe-cfg/ready"]},
                "periodSeconds": 0.1,
            },
            lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "pwd > /srv/probe-out/bye"]}}},
            workingDir="/etc/probe-cfg",
        ),
        base_dir=tmp_path,
        volumes=[
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "out", "hostPath": {"path": str(out)}},
        ],
        config=PodConfig(config_maps={"c": {"ready": b"yes"}}),
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(spec)
        await wait_until(lambda: (p := pod_of(rt, "web-11")) and p.ready, timeout=10)
        await rt.stop_pod("web-11")
        await wait_gone(rt, "web-11")

    run_with_runtime(state_dir, scenario)
    assert (out / "bye").read_text() == "/etc/probe-cfg\n"
