"""Regression: a daemon restarted on an unchanged folder listens on every Service again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.harness import DaemonProcess
from tests.reliability.fleet import Member, restart, wait_settled, write_fleet

pytestmark = [pytest.mark.e2e]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_services_answer_after_a_restart_on_an_unchanged_folder(
    folder: Path, daemon: DaemonProcess, token: str, how: str
) -> None:
    """The sync finds no change after a restart; the Service must be bound all the same."""
    members = [Member("rolling", free_port())]
    write_fleet(folder, members, version=1, token=token)
    daemon.start()
    wait_settled(daemon, members, version=1, timeout=20)
    if how == "sigterm":
        assert daemon.stop() == 0
    else:
        daemon.kill()
    restart(daemon, attempt=0)
    wait_settled(daemon, members, version=1, timeout=20, what="after the restart")
