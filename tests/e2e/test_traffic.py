"""Services carry traffic through every strategy without dropping a request (real sockets)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import ROLLING_SURGE_ONE, DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.load import Load, fetch_version, refused_quickly
from tests.e2e.test_walkthrough import env_token, write
from tests.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def service_yaml(name: str, port: int, *, app: str, affinity: bool = False) -> str:
    sticky = (
        "\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}"
        if affinity
        else ""
    )
    return f"""---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {app}}}{sticky}
  ports:
    - {{name: http, port: {port}, targetPort: http}}
"""


def rollout(daemon: DaemonProcess, name: str) -> dict:
    return dict(daemon.status(name).get("rollout", {}))


@pytest.mark.parametrize("keepalive", [False, True], ids=["new connection", "keep-alive"])
def test_rolling_update_through_a_service_fails_no_request(
    folder: Path, daemon: DaemonProcess, token: str, keepalive: bool
) -> None:
    """200 req/s through the Service while 3 replicas roll: zero failed requests."""
    port = free_port()
    strategy = ROLLING_SURGE_ONE

    def manifest(image: str) -> str:
        return deployment_yaml(
            "web", image=image, replicas=3, strategy=strategy, env=env_token(token)
        ) + service_yaml("web", port, app="web")

    write(folder, "web", manifest("demo:1"))
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="v1")
    wait_for(lambda: fetch_version(port) == "1", what="service answers")
    with Load(port, keepalive=keepalive) as load:
        wait_for(lambda: load.result.ok > 50, what="load running")
        write(folder, "web", manifest("demo:2"))
        wait_for(
            lambda: (
                complete(daemon, "web", 3)()
                and {c.image for p in daemon.pods() for c in p.containers} == {"demo:2"}
            ),
            timeout=60,
            what="v2 rolled out",
        )
        seen = load.result.ok
        wait_for(lambda: load.result.ok > seen + 50, what="load after the rollout")
    assert load.result.failures == []
    assert set(load.result.versions) == {"1", "2"}


def bluegreen_manifests(
    token: str, *, active: int, preview: int, extra: str
) -> Callable[[str], str]:
    """``image -> manifest`` of deployment ``bg`` (BlueGreen, promotion by hand) and its
    active and preview Services; ``extra`` adds blueGreen fields."""
    strategy = f"""
  strategy:
    type: BlueGreen
    blueGreen:
      activeService: bg-active
      previewService: bg-preview
      autoPromotionEnabled: false
      {extra}"""

    def manifest(image: str) -> str:
        return (
            deployment_yaml("bg", image=image, replicas=2, strategy=strategy, env=env_token(token))
            + service_yaml("bg-active", active, app="bg")
            + service_yaml("bg-preview", preview, app="bg")
        )

    return manifest


def test_bluegreen_preview_then_atomic_switch_on_promote(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """v2 is served on the preview port only, until promote switches the active Service."""
    active, preview = free_port(), free_port()
    manifest = bluegreen_manifests(
        token, active=active, preview=preview, extra="scaleDownDelaySeconds: 1"
    )

    write(folder, "bg", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "bg").get("phase") == "Healthy", what="v1 healthy")
    assert fetch_version(active) == "1"
    with Load(active) as load:
        write(folder, "bg", manifest("demo:2"))
        wait_for(lambda: rollout(daemon, "bg").get("phase") == "Paused", what="BlueGreenPause")
        assert fetch_version(preview) == "2"
        assert {fetch_version(active) for _ in range(20)} == {"1"}
        promoted = daemon.cli("rollout", "promote", "bg")
        assert promoted.returncode == 0, promoted.stderr
        assert promoted.stdout.strip() == "rollout 'bg' promoted"
        wait_for(lambda: fetch_version(active) == "2", what="switch")
        assert {fetch_version(active) for _ in range(20)} == {"2"}  # atomic: no v1 after it
        wait_for(
            lambda: (
                rollout(daemon, "bg").get("phase") == "Healthy"
                and {c.image for p in daemon.pods() for c in p.containers} == {"demo:2"}
            ),
            what="old ReplicaSet scaled down after the delay",
        )
    assert load.result.failures == []


CANARY = """
  strategy:
    type: Canary
    canary:
      steps:
        - setWeight: 20
        - pause: {}"""


def test_canary_splits_by_weight_and_sticks_clients(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """At setWeight 20 about 20% of connections reach v2; a ClientIP client keeps its version."""
    main, sticky = free_port(), free_port()

    def manifest(image: str) -> str:
        return (
            deployment_yaml("cn", image=image, replicas=5, strategy=CANARY, env=env_token(token))
            + service_yaml("cn", main, app="cn")
            + service_yaml("cn-sticky", sticky, app="cn", affinity=True)
        )

    write(folder, "cn", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "cn").get("phase") == "Healthy", what="v1 healthy")
    write(folder, "cn", manifest("demo:2"))
    wait_for(
        lambda: (
            rollout(daemon, "cn").get("phase") == "Paused"
            and rollout(daemon, "cn").get("actualWeight") == 20
        ),
        what="paused at 20%",
    )
    versions = [fetch_version(main) for _ in range(500)]
    share = versions.count("2") / len(versions)
    assert 0.18 <= share <= 0.22, share
    for last in range(2, 22):
        source = f"127.0.0.{last}"
        assert len({fetch_version(sticky, source=source) for _ in range(10)}) == 1, source

    with Load(main) as load:
        full = daemon.cli("rollout", "promote", "cn", "--full")
        assert full.returncode == 0, full.stderr
        wait_for(
            lambda: (
                rollout(daemon, "cn").get("phase") == "Healthy"
                and {c.image for p in daemon.pods() if not p.terminating for c in p.containers}
                == {"demo:2"}
            ),
            timeout=60,
            what="fully promoted",
        )
    assert load.result.failures == []
    assert {fetch_version(main) for _ in range(20)} == {"2"}


def test_canary_abort_returns_traffic_to_stable_and_retry_resumes(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """abort: weight 0 and the canary scaled down (Degraded); retry: back to the steps."""
    main = free_port()

    def manifest(image: str) -> str:
        return deployment_yaml(
            "cn", image=image, replicas=4, strategy=CANARY, env=env_token(token)
        ) + service_yaml("cn", main, app="cn")

    write(folder, "cn", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "cn").get("phase") == "Healthy", what="v1")
    write(folder, "cn", manifest("demo:2"))
    wait_for(lambda: rollout(daemon, "cn").get("phase") == "Paused", what="paused")
    aborted = daemon.cli("rollout", "abort", "cn")
    assert aborted.stdout.strip() == "rollout 'cn' aborted", aborted.stderr
    wait_for(lambda: rollout(daemon, "cn").get("phase") == "Degraded", what="degraded")
    wait_for(lambda: {fetch_version(main) for _ in range(30)} == {"1"}, what="all on stable")
    retried = daemon.cli("rollout", "retry", "cn")
    assert retried.stdout.strip() == "rollout 'cn' retried", retried.stderr
    wait_for(
        lambda: (
            rollout(daemon, "cn").get("phase") == "Paused"
            and rollout(daemon, "cn").get("actualWeight") == 20
        ),
        what="back at the first step",
    )


def test_failed_canary_analysis_aborts(folder: Path, daemon: DaemonProcess, token: str) -> None:
    """An HTTP check that fails on the canary pods aborts the canary."""
    main = free_port()
    strategy = """
  strategy:
    type: Canary
    canary:
      analysis:
        interval: 0.3s
        httpGet: {path: /healthz, port: http}
        failureLimit: 1
      steps:
        - setWeight: 50
        - pause: {duration: 60s}"""

    def manifest(image: str, fail: bool) -> str:
        env = env_token(token) + ('\n            - {name: FAIL, value: "1"}' if fail else "")
        return deployment_yaml(
            "an", image=image, replicas=2, strategy=strategy, env=env, readiness=False
        ) + service_yaml("an", main, app="an")

    write(folder, "an", manifest("demo:1", fail=False))
    daemon.start()
    wait_for(lambda: rollout(daemon, "an").get("phase") == "Healthy", what="v1")
    write(folder, "an", manifest("demo:2", fail=True))
    wait_for(lambda: rollout(daemon, "an").get("phase") == "Degraded", timeout=30, what="aborted")
    wait_for(lambda: {fetch_version(main) for _ in range(10)} == {"1"}, what="stable only")


def test_service_without_endpoints_refuses_and_follows_edits_and_deletion(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """No Ready pod: prompt refusal. A port edit moves the listener; deleting the file closes it."""
    port, moved = free_port(), free_port()
    write(folder, "lonely", service_yaml("lonely", port, app="nobody").lstrip("-\n"))
    daemon.start()
    wait_for(lambda: refused_quickly(port), what="prompt refusal")
    write(folder, "web", deployment_yaml("web", replicas=1, env=env_token(token)))
    write(folder, "lonely", service_yaml("lonely", port, app="web").lstrip("-\n"))
    wait_for(lambda: _answers(port), what="endpoints")
    with Load(port, workers=2, rate=50) as load:
        write(folder, "lonely", service_yaml("lonely", moved, app="web").lstrip("-\n"))
        wait_for(lambda: _answers(moved), what="moved listener")
    assert load.result.ok > 0
    (folder / "lonely.yaml").unlink()
    wait_for(lambda: not _answers(moved), what="listener closed")


def _answers(port: int) -> bool:
    try:
        return fetch_version(port) != ""
    except OSError:
        return False
    finally:
        time.sleep(0)


def test_bluegreen_abort_keeps_active_on_the_old_version(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """abort before promotion: the preview ReplicaSet goes, the active Service never moved."""
    active, preview = free_port(), free_port()
    manifest = bluegreen_manifests(
        token, active=active, preview=preview, extra="abortScaleDownDelaySeconds: 0"
    )

    write(folder, "bg", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "bg").get("phase") == "Healthy", what="v1 healthy")
    write(folder, "bg", manifest("demo:2"))
    wait_for(lambda: rollout(daemon, "bg").get("phase") == "Paused", what="BlueGreenPause")
    with Load(active) as load:
        aborted = daemon.cli("rollout", "abort", "bg")
        assert aborted.stdout.strip() == "rollout 'bg' aborted", aborted.stderr
        wait_for(
            lambda: (
                rollout(daemon, "bg").get("phase") == "Degraded"
                and {c.image for p in daemon.pods() for c in p.containers} == {"demo:1"}
            ),
            what="preview scaled away",
        )
    assert load.result.failures == []
    assert set(load.result.versions) == {"1"}
    assert fetch_version(preview) == "1"  # the preview follows the active again


def test_bluegreen_undo_right_after_promotion_switches_back_at_once(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`rollout undo` within scaleDownDelaySeconds: the old pods take the traffic back, no pause."""
    active = free_port()
    strategy = """
  strategy:
    type: BlueGreen
    blueGreen:
      activeService: bg-active
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 60"""

    def manifest(image: str) -> str:
        return deployment_yaml(
            "bg", image=image, replicas=2, strategy=strategy, env=env_token(token)
        ) + service_yaml("bg-active", active, app="bg")

    write(folder, "bg", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "bg").get("phase") == "Healthy", what="v1 healthy")
    write(folder, "bg", manifest("demo:2"))
    wait_for(lambda: rollout(daemon, "bg").get("phase") == "Paused", what="BlueGreenPause")
    assert daemon.cli("rollout", "promote", "bg").returncode == 0
    wait_for(lambda: fetch_version(active) == "2", what="switched to v2")
    v1_pods = {p.name for p in daemon.pods() if p.containers[0].image == "demo:1"}
    with Load(active) as load:
        undo = daemon.cli("rollout", "undo", "deployment/bg")
        assert undo.returncode == 0, undo.stderr
        wait_for(lambda: fetch_version(active) == "1", timeout=10, what="switched back")
    assert load.result.failures == []
    assert rollout(daemon, "bg").get("phase") != "Paused"
    assert v1_pods <= {p.name for p in daemon.pods()}  # the same pods, not new ones
