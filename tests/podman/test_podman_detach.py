"""``PodmanRuntime.detach`` leaves the containers running; a new runtime adopts them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.runtime.podman import PodmanRuntime, stop_all
from tests.e2e.harness import http_get
from tests.podman.conftest import Images, containers_of
from tests.runtime.runtime_helpers import container, pod_spec, wait_until

pytestmark = [pytest.mark.slow]


def test_detach_leaves_the_pod_running_and_the_next_runtime_adopts_it(
    tmp_path: Path, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """After detach the container keeps serving; a new runtime on the same state directory
    has the same pod (same container ID, ports, Ready, 0 restarts), its probes still decide,
    and stop_all (``reconciler down``) removes it."""
    state = tmp_path / "state"
    state.mkdir()
    probe = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 0.2}
    web = container(
        "web",
        image=images.local_web,
        ports=[{"name": "http", "containerPort": 80}],
        readinessProbe=probe,
    )
    spec = pod_spec("web-1", web, base_dir=tmp_path, grace=2)

    async def main() -> None:
        first = PodmanRuntime(state, backoff_initial=0.5, backoff_max=2)
        await first.start()
        await first.start_pod(spec)
        (ready,) = await wait_until(lambda: [p for p in first.pods() if p.ready], timeout=60)
        await first.detach()
        assert first.pods()[0].containers[0].container_id == ready.containers[0].container_id
        assert http_get(ready.ports["80"]) == "podman v1\n"  # nothing was stopped
        second = PodmanRuntime(state, backoff_initial=0.5, backoff_max=2)
        await second.start()
        try:
            (pod,) = second.pods()
            assert pod.name == "web-1" and pod.ready and pod.restarts == 0
            assert pod.containers[0].container_id == ready.containers[0].container_id
            assert pod.ports == ready.ports
            # the probes decide from here: a page gone makes the pod not Ready
            name = pod.containers[0].container_id.removeprefix("podman://")
            removed = await second.podman.run("exec", name, "sh", "-c", "rm /www/index.html")
            assert removed.ok, removed.error()
            await wait_until(lambda: not second.pods()[0].ready, timeout=10)
        finally:
            await second.detach()
        stopped = await stop_all(state)
        assert [p.name for p in stopped] == ["web-1"]

    try:
        asyncio.run(main())
    finally:
        asyncio.run(stop_all(state))  # nothing left, even after a failed assertion
    assert containers_of(podman_env_vars, state) == []


def test_a_container_that_died_while_no_daemon_watched_is_restarted_after_adoption(
    tmp_path: Path, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """A container stopped between two daemons is adopted as it is (terminated): the new
    runtime reads how it ended and restarts it, restart count 1, same pod and ports."""
    from tests.podman.conftest import podman

    state = tmp_path / "state"
    state.mkdir()
    web = container("web", image=images.local_web, ports=[{"name": "http", "containerPort": 80}])
    spec = pod_spec("web-1", web, base_dir=tmp_path, grace=2)

    async def main() -> None:
        first = PodmanRuntime(state, backoff_initial=0.2, backoff_max=1)
        await first.start()
        await first.start_pod(spec)
        (ready,) = await wait_until(lambda: [p for p in first.pods() if p.ready], timeout=60)
        await first.detach()
        old = ready.containers[0].container_id.removeprefix("podman://")
        podman(podman_env_vars, "stop", "--time", "0", old)
        second = PodmanRuntime(state, backoff_initial=0.2, backoff_max=1)
        await second.start()
        try:
            pod = await wait_until(
                lambda: next((p for p in second.pods() if p.ready and p.restarts == 1), None),
                timeout=30,
            )
            assert pod.name == "web-1" and pod.ports == ready.ports
            assert pod.containers[0].container_id not in ("", ready.containers[0].container_id)
            assert pod.containers[0].last_exit_code == 137
            assert http_get(pod.ports["80"]) == "podman v1\n"
        finally:
            await second.close()

    try:
        asyncio.run(main())
    finally:
        asyncio.run(stop_all(state))  # nothing left, even after a failed assertion
    assert containers_of(podman_env_vars, state) == []
