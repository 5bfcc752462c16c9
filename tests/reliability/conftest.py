"""Fixtures of the reliability suite: the end-to-end ones (folder, token, daemon, no leftovers)."""

from __future__ import annotations

from tests.e2e.conftest import daemon, folder, token

__all__ = ["daemon", "folder", "token"]
