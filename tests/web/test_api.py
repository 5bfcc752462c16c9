"""The API end to end: objects as `get -o json` shows them, actions as the CLI does them,
and the webhooks of a full canary in order."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import DaemonProcess, wait_for
from tests.e2e.test_walkthrough import write
from tests.ports import free_port
from tests.web.client import get_json, request
from tests.web.conftest import Receiver
from tests.web.manifests import canary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def rollout(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    return dict(daemon.status(name).get("rollout", {}))


def act(daemon: DaemonProcess, action: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    url = f"{daemon.http_url()}/api/v1/namespaces/default/deployments/cn/{action}"
    code, raw = request(url, method="POST", body=body or {}, **kw)
    return code, json.loads(raw)


def images(daemon: DaemonProcess) -> set[str]:
    return {c.image for p in daemon.pods() if not p.terminating for c in p.containers}


def test_api_actions_and_webhooks_of_a_full_canary(
    folder: Path, start_daemon: Any, token: str, receiver: Receiver, tmp_path: Path
) -> None:
    """get -o json over HTTP; promote/undo/pause as the CLI; webhooks in order, failures counted."""
    own = Receiver()  # the deployment's own receiver, from its annotation
    dead = free_port()  # nothing listens there: every delivery fails
    port = free_port()
    annotation = f"    notifications.reconciler.dev/webhook: {own.url}\n"
    try:
        write(folder, "cn", canary("cn", "demo:1", token=token, port=port, annotations=annotation))
        daemon = start_daemon(
            "--webhook", receiver.url, "--webhook", f"http://127.0.0.1:{dead}/hook"
        )
        wait_for(lambda: rollout(daemon, "cn").get("phase") == "Healthy", what="cn healthy")
        base = daemon.http_url() + "/api/v1"

        listed = get_json(f"{base}/namespaces/default/deployments")
        assert listed["kind"] == "List"
        assert listed["items"] == [daemon.get_json("deployments", "cn")]
        assert get_json(f"{base}/namespaces/default/deployments/cn") == listed["items"][0]
        pods = get_json(f"{base}/pods")["items"]
        assert sorted(p["metadata"]["name"] for p in pods) == sorted(p.name for p in daemon.pods())
        code, missing = request(f"{base}/namespaces/default/deployments/nope")
        assert code == 404
        assert json.loads(missing)["message"] == 'deployments.apps "nope" not found'

        write(folder, "cn", canary("cn", "demo:2", token=token, port=port, annotations=annotation))
        wait_for(lambda: rollout(daemon, "cn").get("phase") == "Paused", what="paused at 50%")
        code, body = act(daemon, "promote")
        assert (code, body["message"]) == (401, body["message"])
        code, body = act(daemon, "promote", token=daemon.http_token())
        assert (code, body["message"]) == (200, "rollout 'cn' promoted")
        wait_for(
            lambda: (
                rollout(daemon, "cn").get("phase") == "Healthy" and images(daemon) == {"demo:2"}
            ),
            what="promoted to demo:2",
        )
        # the first revision's rollout (a new deployment), then the canary's
        full = ["started", "completed", "started", "paused", "promoted", "completed"]
        wait_for(lambda: receiver.events("cn") == full, what=f"webhooks {full}")
        wait_for(lambda: own.events("cn") == full, what="the annotation's receiver")
        first = receiver.bodies[2]
        assert first["deployment"] == "cn" and first["namespace"] == "default"
        assert first["revision"] == 2 and first["images"] == ["app=demo:2"]
        assert receiver.bodies[3]["reason"] == "CanaryPauseStep"
        assert receiver.bodies[4]["reason"] == "RolloutPromoted"
        assert receiver.bodies[5]["phase"] == "Healthy"

        # undo and pause edit the manifest, exactly as the CLI does
        code, body = act(daemon, "undo", token=daemon.http_token())
        assert (code, body["message"]) == (200, "deployment.apps/cn rolled back")
        assert "image: demo:1" in (folder / "cn.yaml").read_text()
        code, body = act(daemon, "pause", token=daemon.http_token())
        assert (code, body["message"]) == (200, "deployment.apps/cn paused")
        assert "paused: true" in (folder / "cn.yaml").read_text()
        history = daemon.cli("rollout", "history", "deployment/cn")
        assert "reconciler rollout undo deployment/cn" in history.stdout, history.stdout
        code, body = act(daemon, "promote", {"full": True}, token="wrong")
        assert code == 401

        # a manifest that does not validate is a notification of its own
        (folder / "cn.yaml").write_text(
            (folder / "cn.yaml").read_text().replace("replicas: 2", "replicas: two")
        )
        wait_for(lambda: "invalid-manifest" in receiver.events("cn"), what="invalid-manifest")

        # the dead receiver never held anything up, and its failures are counted
        def failures() -> float:
            _, text = request(daemon.http_url() + "/metrics")
            for line in text.decode().splitlines():
                if (
                    line.startswith("reconciler_webhook_attempt_failures_total")
                    and str(dead) in line
                ):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        wait_for(lambda: failures() >= 1, what="failed deliveries counted")
    finally:
        own.close()


def test_a_taken_port_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    """--http on a port in use: exit 1 with a one-line reason, no traceback, nothing started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = DaemonProcess(folder, tmp_path / "state")
        result = daemon.cli("run", str(folder), "--http", f"127.0.0.1:{port}", timeout=60)
    assert result.returncode == 1
    assert f"error: --http 127.0.0.1:{port}: cannot listen: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
