"""Fixtures of the proxy tests: a state directory whose data plane is stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.proxy.dataplane import stop_dataplane


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A fresh state directory; any data plane a test left in it is stopped at the end."""
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    yield path
    stop_dataplane(path, drain=1.0)
