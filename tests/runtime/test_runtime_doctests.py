"""The worked examples in the runtime's docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "reconciler.runtime.config",
    "reconciler.runtime.container",
    "reconciler.manifests.podenv",
    "reconciler.manifests.expand",
    "reconciler.runtime.ports",
    "reconciler.runtime.lifecycle",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Every >>> example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
