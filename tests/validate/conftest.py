"""Fixtures of the validator tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def write(tmp_path: Any) -> Any:
    """Write YAML text into a file under tmp_path and return its path."""

    def _write(name: str, text: str | bytes) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return str(path)

    return _write
