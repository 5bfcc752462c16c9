"""The tests' own helpers: one way to wait, one race-free way to pick a port."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from reconciler.runtime.ports import ephemeral_range
from tests.polling import wait_for, wait_until
from tests.ports import free_port


def test_free_ports_are_never_shared_between_test_processes() -> None:
    """A port this process holds is never handed to another test process, nor twice here."""
    mine = {free_port() for _ in range(20)}
    code = "from tests.ports import free_port; print(*[free_port() for _ in range(20)])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    theirs = {int(word) for word in out.split()}
    assert len(mine) == len(theirs) == 20
    assert not mine & theirs


def test_free_ports_lie_outside_the_ephemeral_range() -> None:
    """No outgoing connection can take a test's port: it is not in the ephemeral range."""
    low, high = ephemeral_range() or (32768, 60999)
    assert not low <= free_port() <= high


def test_wait_for_returns_the_value_and_names_what_timed_out() -> None:
    """wait_for hands back the truthy value; a timeout names the condition and the last value."""
    values = iter([0, 0, 7])
    assert wait_for(lambda: next(values), interval=0.001) == 7
    with pytest.raises(AssertionError, match=r"waiting for the answer: last=0"):
        wait_for(lambda: 0, timeout=0.05, interval=0.01, what="the answer")


def test_wait_until_awaits_inside_the_loop() -> None:
    """wait_until lets the loop run between polls, so a task it waits for can finish."""

    async def main() -> str:
        done: list[str] = []
        asyncio.get_running_loop().call_later(0.02, done.append, "ok")
        return await wait_until(lambda: done and done[0], timeout=2)

    assert asyncio.run(main()) == "ok"
