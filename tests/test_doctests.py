"""Worked examples in docstrings outside the runtime (which has its own) stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "reconciler.apiobjects.meta",
    "reconciler.cli.fields",
    "reconciler.cli.gotemplate",
    "reconciler.cli.govalues",
    "reconciler.cli.jsonpath",
    "reconciler.labels",
    "reconciler.cli.describe_text",
    "reconciler.cli.selectors",
    "reconciler.cli.top",
    "reconciler.cli.port_forward",
    "reconciler.cli.explain",
    "reconciler.cli.wait_for",
    "reconciler.cli.events_for",
    "reconciler.events.controllers",
    "reconciler.events.kubelet",
    "reconciler.cli.output",
    "reconciler.cli.undo",
    "reconciler.manifests.configdata",
    "reconciler.manifests.configrules",
    "reconciler.folder.diff",
    "reconciler.manifests.envrules",
    "reconciler.engine.canary",
    "reconciler.engine.fenceposts",
    "reconciler.engine.pause",
    "reconciler.engine.serialize",
    "reconciler.engine.state",
    "reconciler.export",
    "reconciler.export.kubernetes",
    "reconciler.export.warnings",
    "reconciler.manifests.load",
    "reconciler.objects",
    "reconciler.revisions",
    "reconciler.folder.sync",
    "reconciler.units",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Every >>> example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
