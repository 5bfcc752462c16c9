"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A fresh state directory for one test."""
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(autouse=True)
def _isolated_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test ever touches a real .reconciler/ above the working directory."""
    monkeypatch.setenv("RECONCILER_STATE_DIR", os.fspath(tmp_path / "default-state"))
