"""Never confidently wrong (issue 18): broken files, half-written files, stale state, drift."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.harness import ROLLING_SURGE_ONE, DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.load import Load, fetch_version
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import env_token, write
from tests.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _conditions(daemon: DaemonProcess, name: str) -> dict[str, dict[str, object]]:
    return {c["type"]: c for c in daemon.status(name).get("conditions", [])}


def test_a_syntax_error_is_shown_by_get_rollout_status_and_set_image(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A YAML syntax error in a running deployment's file: pods keep running; `get` warns with
    file:line:col, `rollout status` exits 1 with it, `set image` names the broken file; an
    InvalidManifest event and condition are recorded; all of it clears once the file is fixed."""
    good = deployment_yaml("web", replicas=2, env=env_token(token))
    path = write(folder, "web", good)
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="ready")
    before = {p.name for p in daemon.pods()}
    broken = good.replace("  replicas: 2\n", "  replicas: 2\n  selector: [\n")
    path.write_text(broken)
    wait_for(lambda: daemon.status("web").get("invalid"), timeout=30, what="invalid recorded")
    where = re.compile(r"web\.yaml:\d+:\d+: error: YAML syntax error: ")

    listing = daemon.cli("get", "deployments")
    assert listing.returncode == 0
    assert "web" in listing.stdout and "2/2" in listing.stdout
    assert where.search(listing.stderr), listing.stderr
    assert "last good revision keeps running" in listing.stderr

    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "5s")
    assert status.returncode == 1
    assert "successfully rolled out" not in status.stdout
    assert where.search(status.stderr), status.stderr

    edit = daemon.cli("set", "image", "deployment/web", "app=demo:2")
    assert edit.returncode == 1
    assert "NotFound" not in edit.stderr
    assert "cannot be parsed" in edit.stderr and where.search(edit.stderr), edit.stderr
    assert path.read_text() == broken  # nothing written

    condition = _conditions(daemon, "web")["ManifestValid"]
    assert (condition["status"], condition["reason"]) == ("False", "InvalidManifest")
    events = daemon.cli("get", "events").stdout
    assert "InvalidManifest" in events
    assert {p.name for p in daemon.pods()} == before and all(p.ready for p in daemon.pods())

    write(folder, "web", good)
    wait_for(lambda: "invalid" not in daemon.status("web"), timeout=30, what="invalid cleared")
    assert "ManifestValid" not in _conditions(daemon, "web")
    fixed = daemon.cli("rollout", "status", "deployment/web", "--timeout", "30s")
    assert fixed.returncode == 0, fixed.stderr
    assert "warning" not in daemon.cli("get", "deployments").stderr.lower()


ROLLING = ROLLING_SURGE_ONE


def test_reads_say_when_no_daemon_runs_and_when_there_is_no_state(
    folder: Path, daemon: DaemonProcess, token: str, tmp_path: Path
) -> None:
    """Stopped daemon: `get`, `describe`, `rollout status` and `history` warn on stderr with
    the time of the last observation. No state directory: reads and `set image` say so and
    exit 1, instead of "No resources found" or NotFound."""
    write(folder, "web", deployment_yaml("web", replicas=1, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 1), what="ready")
    assert "warning" not in daemon.cli("get", "deployments").stderr
    daemon.stop()
    stale = re.compile(
        rf"^warning: no reconciler daemon is running for {re.escape(str(daemon.state))}; "
        r"showing the state as of \d\d:\d\d:\d\d$",
        re.MULTILINE,
    )
    for argv in (
        ["get", "deployments"],
        ["describe", "deployment", "web"],
        ["rollout", "history", "deployment/web"],
    ):
        result = daemon.cli(*argv)
        assert stale.search(result.stderr), (argv, result.stderr)
        assert "web" in result.stdout, argv
    status = daemon.cli("rollout", "status", "deployment/web", "--watch=false")
    assert stale.search(status.stderr), status.stderr

    (tmp_path / "elsewhere").mkdir()  # a folder with no manifests and no state
    nowhere = DaemonProcess(tmp_path / "elsewhere" / "manifests", tmp_path / "no-state")
    for argv in (["get", "pods"], ["set", "image", "deployment/web", "app=demo:2"]):
        result = nowhere.cli(*argv)
        assert result.returncode == 1, argv
        assert result.stderr.startswith(f"error: no reconciler state at {tmp_path / 'no-state'}")
        assert "No resources found" not in result.stderr and "NotFound" not in result.stderr
    assert not (tmp_path / "no-state").exists()
    edited = daemon.cli("set", "image", "deployment/web", "app=demo:2")  # the file is there
    assert edited.returncode == 0
    assert "no reconciler daemon is running" in edited.stderr


def test_a_two_part_in_place_write_under_traffic_drops_nothing(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A file written in place in two goes (a valid Deployment first, its probe and Service
    300 ms later) while traffic flows: no failed request, no deletion, one new revision."""
    port = free_port()

    def manifest(image: str) -> str:
        return deployment_yaml(
            "web", image=image, replicas=2, strategy=ROLLING, env=env_token(token)
        ) + service_yaml("web", port, app="web")

    path = write(folder, "web", manifest("demo:1"))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="v1")
    wait_for(lambda: fetch_version(port) == "1", what="service answers")
    text = manifest("demo:2")
    cut = text.index("          readinessProbe:")  # the first part alone is a valid Deployment
    with Load(port) as load:
        wait_for(lambda: load.result.ok > 30, what="load running")
        with open(path, "w") as out:
            out.write(text[:cut])
            out.flush()
            time.sleep(0.3)
            out.write(text[cut:])
        wait_for(
            lambda: (
                complete(daemon, "web", 2)()
                and {c.image for p in daemon.pods() if not p.terminating for c in p.containers}
                == {"demo:2"}
            ),
            timeout=60,
            what="v2 rolled out",
        )
        seen = load.result.ok
        wait_for(lambda: load.result.ok > seen + 30, what="load after the rollout")
    assert load.result.failures == []
    assert [rs.revision for rs in daemon.replicasets("web")] == [1, 2]
    # no object was deleted on the way (the reason column: pods replaced by the rollout are
    # the ReplicaSet's SuccessfulDelete, not an object's Deleted)
    events = daemon.cli("get", "events").stdout.splitlines()[1:]
    assert [line for line in events if line.split()[2] == "Deleted"] == []
    assert "object_deleted" not in daemon.log.read_text()


def test_rollout_status_reports_a_crash_fails_fast_and_wait_for_deadline_waits(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A new revision whose pods exit 1: `rollout status` names the crashing pod and fails at
    the first back-off; with `--wait-for-deadline` it waits (here until --timeout) instead."""
    write(folder, "web", deployment_yaml("web", replicas=2, strategy=ROLLING, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="v1")
    crashing = deployment_yaml(
        "web",
        image="demo:crash",
        replicas=2,
        strategy=ROLLING,
        command='["python3", "-c", "import sys; sys.exit(1)"]',
        env=env_token(token),
    )
    write(folder, "web", crashing)
    started = time.monotonic()
    fast = daemon.cli("rollout", "status", "deployment/web", "--timeout", "60s")
    took = time.monotonic() - started
    assert fast.returncode == 1
    assert re.search(r'pod "web-\w+-\w+" is crashing: exit code 1, \d+ restarts?', fast.stdout)
    assert "CrashLoopBackOff" in fast.stderr, fast.stderr
    assert took < 20, took  # the first back-off, not the progress deadline or ~30 s of back-off

    started = time.monotonic()
    waiting = daemon.cli(
        "rollout", "status", "deployment/web", "--timeout", "3s", "--wait-for-deadline"
    )
    took = time.monotonic() - started
    assert waiting.returncode == 1
    assert waiting.stderr.strip().endswith("error: timed out waiting for the condition")
    assert took >= 3.0


def test_drift_after_an_auto_rollback_is_shown_everywhere_and_undo_resolves_it(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """After autoRollback the file asks for revision 2 while revision 1 runs: `get` marks it
    (UP-TO-DATE 0, the running image, a warning naming undo/retry), `describe` and `rollout
    status` say which revision runs and why, `diff` exits 1 with the image that runs; `rollout
    undo` makes folder and pods agree again."""

    def manifest(image: str, command: str) -> str:
        return deployment_yaml(
            "web",
            image=image,
            replicas=2,
            strategy=ROLLING,
            extra_spec="\n  autoRollback: true",
            command=command,
            env=env_token(token),
        )

    write(folder, "web", manifest("demo:1", '["python3", "-m", "reconciler.demoapp"]'))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    write(folder, "web", manifest("demo:2", '["python3", "-c", "import sys; sys.exit(1)"]'))
    wait_for(
        lambda: (
            daemon.status("web").get("rollout", {}).get("failedTemplateHash")
            and {c.image for p in daemon.pods() if not p.terminating for c in p.containers}
            == {"demo:1"}
        ),
        timeout=30,
        what="rolled back to demo:1",
    )
    undo = "reconciler rollout undo deployment/web"
    retry = "reconciler rollout retry deployment/web"

    listing = daemon.cli("get", "deployments", "-o", "wide")
    row = listing.stdout.splitlines()[1]
    assert row.split()[:3] == ["web", "2/2", "0"], row  # no pod runs what the folder asks for
    assert "demo:2 (running demo:1)" in row
    assert "runs revision 1 (demo:1), not revision 2 (demo:2)" in listing.stderr
    assert undo in listing.stderr and retry in listing.stderr

    describe = daemon.cli("describe", "deployment", "web").stdout
    assert re.search(r"Drift:\n  Reason: +RolledBack\n  Running: +revision 1 \(demo:1\)", describe)
    assert re.search(r"Folder Asks: +revision 2 \(demo:2\)", describe)
    assert "rolled back automatically" in describe and undo in describe

    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "10s")
    assert status.returncode == 1
    assert "runs revision 1 (demo:1), not revision 2 (demo:2)" in status.stderr
    assert undo in status.stderr

    diff = daemon.cli("diff")
    assert diff.returncode == 1, diff.stderr
    assert re.search(r"^-\s+image: demo:1$", diff.stdout, re.MULTILINE), diff.stdout
    assert re.search(r"^\+\s+image: demo:2$", diff.stdout, re.MULTILINE)

    undone = daemon.cli("rollout", "undo", "deployment/web")
    assert undone.returncode == 0, undone.stderr
    wait_for(lambda: daemon.cli("diff").returncode == 0, what="folder and pods agree")
    assert "Warning" not in daemon.cli("get", "deployments").stderr


def test_exec_exits_with_the_commands_exit_code_and_kubectls_words(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`exec POD -- CMD` exits with CMD's code ("command terminated with exit code 3"); a
    command that does not exist is runc's message and exit code 126, as kubectl shows them."""
    write(folder, "web", deployment_yaml("web", replicas=1, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 1), what="ready")
    (pod,) = daemon.pods()
    ok = daemon.cli("exec", pod.name, "--", "sh", "-c", "echo $POD_NAME")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, f"{pod.name}\n", "")
    three = daemon.cli("exec", pod.name, "--", "sh", "-c", "exit 3")
    assert (three.returncode, three.stderr) == (3, "command terminated with exit code 3\n")
    missing = daemon.cli("exec", pod.name, "--", "nonexist")
    assert missing.returncode == 126
    assert missing.stderr == (
        "OCI runtime exec failed: exec failed: unable to start container process: "
        'exec: "nonexist": executable file not found in $PATH: unknown\n'
        "command terminated with exit code 126\n"
    )
