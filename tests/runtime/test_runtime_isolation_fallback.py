"""Where the host lacks mount namespaces or cgroups: paths in the environment, and after a
crashed daemon: its mounts and cgroups are cleaned by the next start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from isolation_helpers import cgroup_dirs, isolated_pod, mounts_under, require_isolation
from runtime_helpers import container, py, run_with_runtime, wait_until

from reconciler.runtime import PodConfig
from reconciler.runtime.isolation.capabilities import Capabilities
from reconciler.runtime.isolation.pods import Isolation
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone


def test_without_a_mount_namespace_the_volume_path_is_in_the_environment(
    state_dir: Path, tmp_path: Path
) -> None:
    """No mount namespace, no cgroups: the container runs unwrapped, $VOLUME_<NAME> has the
    host path of the volume (files included), and the limit is simply not applied."""
    out = tmp_path / "env.json"
    node = Isolation(state_dir, capabilities=Capabilities(None, "no cgroups here", False, "no"))
    spec = isolated_pod(
        "web-1",
        container(
            "app",
            **py(
                "import json, os, time\n"
                "path = os.environ['VOLUME_APP_CONFIG']\n"
                f"json.dump([path, open(path + '/k').read(), os.path.exists('/etc/cfg')], "
                f"open({str(out)!r}, 'w'))\n"
                "time.sleep(60)\n"
            ),
            volumeMounts=[{"name": "app-config", "mountPath": "/etc/cfg"}],
            resources={"limits": {"memory": "64Mi"}},
        ),
        base_dir=tmp_path,
        volumes=[{"name": "app-config", "configMap": {"name": "c"}}],
        config=PodConfig(config_maps={"c": {"k": b"v"}}),
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(spec)
        await wait_until(out.exists, timeout=10)
        await rt.stop_pod("web-1")
        await wait_gone(rt, "web-1")

    run_with_runtime(state_dir, scenario, isolation=node)
    path, content, mounted = json.loads(out.read_text())
    assert path == str(state_dir / "volumes" / "default" / "web-1" / "app-config")
    assert (content, mounted) == ("v", False)
    assert json.loads((state_dir / "isolation.json").read_text())["cgroup_problem"] == (
        "no cgroups here"
    )


CRASHING_DAEMON = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {helpers!r})
from isolation_helpers import isolated_pod
from runtime_helpers import container, py, wait_until, pod_of
from reconciler.runtime.process import ProcessRuntime

async def main():
    rt = ProcessRuntime(Path({state!r}))
    await rt.start()
    spec = isolated_pod(
        "left-1",
        container("app", **py("import time; time.sleep(60)"),
                  volumeMounts=[{{"name": "m", "mountPath": "/opt/left/m"}}],
                  resources={{"limits": {{"memory": "64Mi"}}}}),
        base_dir=Path({base!r}),
        volumes=[{{"name": "m", "emptyDir": {{"medium": "Memory"}}}}],
    )
    await rt.start_pod(spec)
    await wait_until(lambda: pod_of(rt, "left-1").containers[0].state == "Running")
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_crashed_daemons_mounts_and_cgroups_are_cleaned_by_the_next_start(
    state_dir: Path, tmp_path: Path
) -> None:
    """kill -9 leaves a tmpfs volume and a cgroup with a process; the next start removes both."""
    require_isolation()
    script = CRASHING_DAEMON.format(
        helpers=str(Path(__file__).parent), state=str(state_dir), base=str(tmp_path)
    )
    daemon = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:
            if line.strip() == "ready":
                break
    finally:
        daemon.kill()
        daemon.wait()
    assert len(mounts_under(state_dir)) == 1
    assert cgroup_dirs(state_dir) != []

    async def restart(rt: ProcessRuntime) -> None:
        return None

    run_with_runtime(state_dir, restart)
    assert mounts_under(state_dir) == []
    assert cgroup_dirs(state_dir) == []
    assert not (state_dir / "volumes").exists() or not list((state_dir / "volumes").iterdir())
