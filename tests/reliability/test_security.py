"""Security: private files, loopback proxies, owned state dirs, safe names, redaction, no shell."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError, StateDirError
from reconciler.manifests.load import load_paths
from reconciler.manifests.validate import validate_documents
from reconciler.paths import check_owner
from reconciler.runtime.layout import container_file, pod_logs_dir, pod_runtime_dir
from tests.e2e.harness import DaemonProcess, deployment_yaml, wait_for
from tests.ports import free_port
from tests.reliability.fleet import service_yaml

SECRETS = {"DB_PASSWORD": "hunter2-pw", "GITHUB_TOKEN": "ghp-tok-123", "API_KEY": "k3y-value"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_owned_by_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-root user may not use a state directory another uid owns; root may use any."""
    path = tmp_path / "theirs"
    path.mkdir()
    os.chown(path, 12345, 12345)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(StateDirError, match="owned by uid 12345"):
        check_owner(path)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    check_owner(path)


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "x\0y", "UPPER", "-x"])
def test_names_that_could_escape_the_state_dir_are_rejected(tmp_path: Path, name: str) -> None:
    """The validator rejects such a Deployment name; the runtime refuses it as a path part."""
    path = tmp_path / "d.yaml"
    path.write_text(deployment_yaml("placeholder").replace("placeholder", name.replace("\0", "")))
    report = validate_documents(load_paths([str(path)]).documents)
    if "\0" not in name:
        assert not report.objects, name
    with pytest.raises(ReconcilerError):
        pod_runtime_dir(tmp_path, "default", name)
    with pytest.raises(ReconcilerError):
        pod_logs_dir(tmp_path, name, "pod")
    with pytest.raises(ReconcilerError):
        container_file(tmp_path, name, ".log")


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":
                found.add(address)
    return found


@pytest.mark.e2e
@pytest.mark.slow
def test_running_daemon_keeps_files_private_listens_on_loopback_and_redacts(
    folder: Path, daemon: DaemonProcess, token: str, tmp_path: Path
) -> None:
    """0700/0600 state, loopback proxies, secrets redacted everywhere shown, no shell anywhere."""
    port = free_port()
    env = "\n          env:\n" + "".join(
        f'            - {{name: {k}, value: "{v}"}}\n' for k, v in SECRETS.items()
    )
    env += f'            - {{name: E2E_TOKEN, value: "{token}"}}'
    (folder / "web.yaml").write_text(
        deployment_yaml("web", replicas=1, env=env) + service_yaml("web", port)
    )
    marker = tmp_path / "pwned"
    shell = deployment_yaml(
        "shell",
        replicas=1,
        readiness=False,
        command=f"[\"sh -c 'touch {marker}'\"]",
        env=f'\n          env: [{{name: E2E_TOKEN, value: "{token}"}}]',
    )
    argv_file = tmp_path / "argv"
    literal = deployment_yaml(
        "literal",
        replicas=1,
        readiness=False,
        command=(
            '["python3", "-c", "import sys; open(sys.argv[1], \'w\').write(repr(sys.argv[2:]))", '
            f'"{argv_file}", "; touch {marker}", "$(touch {marker})", "`touch {marker}`", "*"]'
        ),
        env=f'\n          env: [{{name: E2E_TOKEN, value: "{token}"}}]',
    )
    (folder / "shell.yaml").write_text(shell)
    (folder / "literal.yaml").write_text(literal)
    daemon.start()
    wait_for(lambda: any(p.ready for p in daemon.pods() if p.owner.startswith("web-")), what="web")
    wait_for(argv_file.exists, what="the literal container ran")
    wait_for(
        lambda: any(
            c.reason in ("ErrImagePull", "ImagePullBackOff")
            for p in daemon.pods()
            if p.owner.startswith("shell-")
            for c in p.containers
        ),
        what="a command string with a space is an executable name, not a shell line",
    )

    # no shell: every metacharacter reached the program literally, nothing ran
    assert argv_file.read_text() == repr(
        [f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", "*"]
    )
    assert not marker.exists()

    # private files
    state = daemon.state
    assert _mode(state) == 0o700
    assert _mode(state / "state.db") == 0o600
    logs = [p for p in (state / "logs").rglob("*") if p.is_file()]
    assert logs, "no container log written"
    for path in logs:
        assert _mode(path) == 0o600, path
    for path in (state / "logs").rglob("*"):
        if path.is_dir():
            assert _mode(path) == 0o700, path

    # loopback only
    assert _listening_addresses(port) == {"0100007F"}

    # redaction: describe, get -o yaml, and the daemon's own log
    shown = daemon.cli("describe", "deployment", "web")
    as_yaml = daemon.cli("get", "deployment", "web", "-o", "yaml")
    assert shown.returncode == 0 and as_yaml.returncode == 0, shown.stderr + as_yaml.stderr
    for name, value in SECRETS.items():
        assert name in shown.stdout and name in as_yaml.stdout
        for text in (shown.stdout, as_yaml.stdout, daemon.log.read_text()):
            assert value not in text, name
