"""The seed's kubectl walk-through, end to end: real daemon, real folder, real pods."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import (
    ROLLING_SURGE_ONE,
    DaemonProcess,
    complete,
    deployment_yaml,
    processes_with,
    sampling,
    wait_for,
)
from tests.reliability.fleet import pod_processes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def env_token(token: str) -> str:
    return f"""
          env:
            - {{name: E2E_TOKEN, value: "{token}"}}"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    tmp = folder / f".{name}.yaml.tmp"
    tmp.write_text(text)
    tmp.replace(path)
    return path


ROLLING = ROLLING_SURGE_ONE


def images(daemon: DaemonProcess) -> set[str]:
    return {c.image for p in daemon.pods() if not p.terminating for c in p.containers}


def test_create_get_and_rolling_update_within_bounds(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A new file gives 3/3; an image change rolls within maxSurge/maxUnavailable; history has 2."""
    write(folder, "web", deployment_yaml("web", replicas=3, strategy=ROLLING, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="web 3/3")
    table = daemon.cli("get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["web", "3/3", "3", "3"]

    def counts() -> tuple[int, int]:
        pods = [p for p in daemon.pods() if not p.terminating]
        return len(pods), sum(1 for p in pods if p.ready)

    with sampling(counts) as samples:
        write(
            folder,
            "web",
            deployment_yaml(
                "web", image="demo:2", replicas=3, strategy=ROLLING, env=env_token(token)
            ),
        )
        wait_for(lambda: complete(daemon, "web", 3)() and images(daemon) == {"demo:2"}, what="v2")
    assert samples, "no samples taken"
    assert max(total for total, _ in samples) <= 4  # replicas + maxSurge
    assert min(ready for _, ready in samples) >= 3  # replicas - maxUnavailable

    history = daemon.cli("rollout", "history", "deployment/web")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0] == "deployment.apps/web "
    assert [line.split()[0] for line in lines[2:] if line.strip()] == ["1", "2"]


def test_undo_and_to_revision_restore_templates(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`rollout undo` writes the previous template back; `--to-revision=1` picks revision 1."""
    path = write(
        folder, "web", deployment_yaml("web", replicas=2, strategy=ROLLING, env=env_token(token))
    )
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    write(
        folder,
        "web",
        deployment_yaml("web", image="demo:2", replicas=2, strategy=ROLLING, env=env_token(token)),
    )
    wait_for(lambda: complete(daemon, "web", 2)() and images(daemon) == {"demo:2"}, what="rev 2")
    write(
        folder,
        "web",
        deployment_yaml("web", image="demo:3", replicas=2, strategy=ROLLING, env=env_token(token)),
    )
    wait_for(lambda: complete(daemon, "web", 2)() and images(daemon) == {"demo:3"}, what="rev 3")

    undo = daemon.cli("rollout", "undo", "deployment/web")
    assert undo.returncode == 0, undo.stderr
    assert undo.stdout.strip() == "deployment.apps/web rolled back"
    assert "image: demo:2" in path.read_text()
    wait_for(lambda: complete(daemon, "web", 2)() and images(daemon) == {"demo:2"}, what="undo")
    revisions = {rs.revision: rs for rs in daemon.replicasets("web")}
    assert sorted(revisions) == [1, 3, 4]  # RS(demo:2) reused: revision 2 became 4

    undo = daemon.cli("rollout", "undo", "deployment/web", "--to-revision=1")
    assert undo.returncode == 0, undo.stderr
    wait_for(lambda: complete(daemon, "web", 2)() and images(daemon) == {"demo:1"}, what="to rev 1")


def test_pause_collects_edits_into_one_rollout(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """While paused, template edits wait; resume gives exactly one new revision."""
    write(folder, "web", deployment_yaml("web", replicas=2, strategy=ROLLING, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    assert (
        daemon.cli("rollout", "pause", "deployment/web").stdout.strip()
        == "deployment.apps/web paused"
    )
    wait_for(
        lambda: (
            daemon.status("web").get("conditions")
            and any(
                c.get("reason") == "DeploymentPaused" for c in daemon.status("web")["conditions"]
            )
        ),
        what="paused condition",
    )
    assert daemon.cli("set", "image", "deployment/web", "app=demo:2").returncode == 0
    assert daemon.cli("set", "image", "deployment/web", "app=demo:3").returncode == 0
    assert daemon.cli("scale", "deployment/web", "--replicas", "3").returncode == 0
    wait_for(
        lambda: len([p for p in daemon.pods() if p.ready and not p.terminating]) == 3,
        what="scaled while paused",
    )
    assert [rs.revision for rs in daemon.replicasets("web")] == [1]
    assert images(daemon) == {"demo:1"}
    assert daemon.cli("rollout", "resume", "deployment/web").returncode == 0
    wait_for(
        lambda: complete(daemon, "web", 3)() and images(daemon) == {"demo:3"}, what="one rollout"
    )
    assert [rs.revision for rs in daemon.replicasets("web")] == [1, 2]


def test_recreate_stops_all_old_pods_before_new_ones(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Recreate: no new pod exists while any old pod (even terminating) is still there."""
    recreate = "\n  strategy:\n    type: Recreate"
    write(
        folder, "job", deployment_yaml("job", replicas=3, strategy=recreate, env=env_token(token))
    )
    daemon.start()
    wait_for(complete(daemon, "job", 3), what="rev 1")
    with sampling(lambda: {c.image for p in daemon.pods() for c in p.containers}) as seen:
        write(
            folder,
            "job",
            deployment_yaml(
                "job", image="demo:2", replicas=3, strategy=recreate, env=env_token(token)
            ),
        )
        wait_for(lambda: complete(daemon, "job", 3)() and images(daemon) == {"demo:2"}, what="v2")
    mixed = [images for images in seen if len(images) > 1]
    assert mixed == []


def test_missing_executable_holds_rollout_and_status_fails_fast(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A command that does not exist: old pods keep serving; status exits 1 with the reason."""
    write(folder, "web", deployment_yaml("web", replicas=2, strategy=ROLLING, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    write(
        folder,
        "web",
        deployment_yaml(
            "web",
            image="demo:broken",
            replicas=2,
            strategy=ROLLING,
            command='["/nonexistent/bin/demo-$(IMAGE_TAG)"]',
            env=env_token(token),
        ),
    )
    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "30s")
    assert status.returncode == 1
    assert "ImagePullBackOff" in status.stderr or "ErrImagePull" in status.stderr
    ready_old = [
        p for p in daemon.pods() if p.ready and {c.image for c in p.containers} == {"demo:1"}
    ]
    assert len(ready_old) == 2


def test_delete_pod_is_replaced_and_deleting_the_file_removes_pods(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`delete pod` → the ReplicaSet replaces it; removing the manifest stops every pod."""
    path = write(folder, "web", deployment_yaml("web", replicas=2, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="ready")
    victim = daemon.pods()[0].name
    result = daemon.cli("delete", "pod", victim)
    assert result.returncode == 0, result.stderr
    wait_for(
        lambda: (
            victim not in {p.name for p in daemon.pods()}
            and len([p for p in daemon.pods() if p.ready]) == 2
        ),
        what="replacement",
    )
    path.unlink()
    wait_for(lambda: not daemon.pods() and not processes_with(token), what="pods gone")


def test_invalid_edit_keeps_last_good_revision_running(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A broken manifest changes nothing; the error with file:line:col is shown by describe."""
    path = write(folder, "web", deployment_yaml("web", replicas=2, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="ready")
    before = {p.name for p in daemon.pods()}
    path.write_text(path.read_text().replace("replicas: 2", "replicas: two"))
    wait_for(lambda: daemon.status("web").get("invalid"), what="invalid recorded")
    status = daemon.cli("rollout", "status", "deployment/web")
    assert status.returncode == 1
    assert "invalid" in status.stderr and "replicas" in status.stderr
    describe = daemon.cli("describe", "deployment", "web").stdout
    assert f"{path.name}:" in describe or "web.yaml" in describe
    assert "replicas" in describe
    assert {p.name for p in daemon.pods()} == before
    assert all(p.ready for p in daemon.pods())


def test_kill_9_mid_rollout_then_restart_completes_without_leftovers(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """kill -9 of the daemon during a rollout; a new daemon adopts the pods and finishes it:
    the new pods started before the kill keep their processes, the old ones are gone."""
    write(folder, "web", deployment_yaml("web", replicas=3, strategy=ROLLING, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="rev 1")
    write(
        folder,
        "web",
        deployment_yaml("web", image="demo:2", replicas=3, strategy=ROLLING, env=env_token(token)),
    )
    wait_for(lambda: "demo:2" in images(daemon), what="rollout started")
    new_rs = max(daemon.replicasets("web"), key=lambda rs: rs.revision).name
    daemon.kill()
    new_before = {p for p, name in pod_processes(token).items() if name.startswith(new_rs)}
    daemon.start()
    wait_for(
        lambda: complete(daemon, "web", 3)() and images(daemon) == {"demo:2"},
        what="completed after restart",
    )
    # old pods of the finished rollout may still be terminating: wait for exactly 3 processes
    wait_for(lambda: len(processes_with(token)) == 3, what="only the 3 new pods' processes")
    after = pod_processes(token)
    assert new_before <= set(after), (new_before, after)
    assert all(name.startswith(new_rs) for name in after.values()), after


def test_set_image_rolls_out_and_history_names_the_command(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """The seed's `set image`: the file is edited, the daemon rolls, history shows the command."""
    # minReadySeconds: the rollout lasts seconds, so `rollout status` (a new process) always
    # finds it under way; a rollout already done when it looks is kubectl's single line
    manifest = deployment_yaml(
        "web", replicas=2, env=env_token(token), extra_spec="\n  minReadySeconds: 2"
    )
    path = write(folder, "web", "# the web tier\n" + manifest)
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    result = daemon.cli("set", "image", "deployment.v1.apps/web", "app=demo:1.16.1")
    assert result.stdout == "deployment.apps/web image updated\n", result.stderr
    assert path.read_text().startswith("# the web tier\n")
    # right after the edit: rollout status waits for the daemon to see it, then for the rollout
    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "60s")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert len(lines) > 1 and all(line.startswith("Waiting for") for line in lines[:-1])
    assert images(daemon) == {"demo:1.16.1"}
    history = daemon.cli("rollout", "history", "deployment/web").stdout.splitlines()
    assert history[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert history[3] == "2         reconciler set image deployment.v1.apps/web app=demo:1.16.1"
