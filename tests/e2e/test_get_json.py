"""`get pods -o json` during a RollingUpdate, as a script sees it (issue #17's reproducer).

A script that counts live pods with ``jq '[.items[] | select(.metadata.deletionTimestamp ==
null)] | length'`` must never count more than ``replicas + maxSurge``: the pods being stopped
(here a slow preStop keeps them around) carry ``deletionTimestamp``, as the API server marks
them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    ROLLING_SURGE_ONE,
    DaemonProcess,
    complete,
    deployment_yaml,
    sampling,
    wait_for,
)
from tests.e2e.test_walkthrough import env_token, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOW_PRESTOP = """
          lifecycle:
            preStop: {sleep: {seconds: 3}}"""


def _manifest(image: str, token: str) -> str:
    return deployment_yaml(
        "web",
        image=image,
        replicas=3,
        strategy=ROLLING_SURGE_ONE,
        env=env_token(token) + SLOW_PRESTOP,
    )


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_terminating_pods_carry_deletion_timestamp_and_live_pods_stay_within_surge(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Sampled through a RollingUpdate (3 replicas, maxSurge 1, 3 s preStop): terminating pods
    have deletionTimestamp (= termination start + 5 s grace) and deletionGracePeriodSeconds, and
    the pods without one never number more than 4."""
    write(folder, "web", _manifest("demo:1", token))
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="first rollout complete")
    first = {p.name for p in daemon.pods()}

    def observe() -> list[dict[str, Any]]:
        doc = daemon.get_json("pods")
        assert doc["kind"] == "List" and doc["metadata"] == {"resourceVersion": ""}
        return list(doc["items"])

    with sampling(observe, every=0.05) as samples:
        write(folder, "web", _manifest("demo:2", token))
        wait_for(
            lambda: complete(daemon, "web", 3)() and not first & {p.name for p in daemon.pods()},
            timeout=60,
            what="rollout to demo:2 complete and the old pods gone",
        )
    terminating = [
        pod for items in samples for pod in items if "deletionTimestamp" in pod["metadata"]
    ]
    live_counts = [
        sum(1 for pod in items if "deletionTimestamp" not in pod["metadata"]) for items in samples
    ]
    assert len(samples) >= 2
    assert terminating, f"no sample saw a terminating pod in {len(samples)} samples"
    assert max(live_counts) <= 3 + 1, live_counts
    for pod in terminating:
        metadata = pod["metadata"]
        assert metadata["name"] in first
        assert metadata["deletionGracePeriodSeconds"] == 5
        deletion = _seconds(metadata["deletionTimestamp"])
        created = _seconds(metadata["creationTimestamp"])
        assert created < deletion
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "False"  # a terminating pod is never Ready
    uids = {pod["metadata"]["name"]: pod["metadata"]["uid"] for items in samples for pod in items}
    assert len(set(uids.values())) == len(uids)  # one uid per pod, stable across samples
