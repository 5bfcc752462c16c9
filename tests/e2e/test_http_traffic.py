"""A Service port with ``appProtocol: http`` through the daemon: requests routed one by one."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.harness import ROLLING_SURGE_ONE, DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.load import Load, fetch_version
from tests.e2e.test_walkthrough import env_token, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def http_service_yaml(name: str, port: int, *, app: str) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {app}}}
  ports:
    - {{name: http, port: {port}, targetPort: http, appProtocol: http}}
"""


def test_keep_alive_clients_reach_the_new_version_with_no_failed_request(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Keep-alive load through an http Service while 3 replicas roll: no request fails, and
    the same kept-alive client connections are served by v2 once v1 has left (the proxy moves
    them between requests); one client connection sees both versions."""
    port = free_port()

    def manifest(image: str) -> str:
        return deployment_yaml(
            "web", image=image, replicas=3, strategy=ROLLING_SURGE_ONE, env=env_token(token)
        ) + http_service_yaml("web", port, app="web")

    write(folder, "web", manifest("demo:1"))
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="v1")
    wait_for(lambda: fetch_version(port) == "1", what="service answers")
    watched = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    watched.request("GET", "/")
    first = watched.getresponse().read().decode().split()[1]
    with Load(port, keepalive=True) as load:
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
    watched.request("GET", "/")  # the same connection, kept alive across the rollout
    last = watched.getresponse().read().decode().split()[1]
    watched.close()
    assert load.result.failures == []
    assert set(load.result.versions) == {"1", "2"}
    assert (first, last) == ("1", "2")
