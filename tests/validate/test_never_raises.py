"""The validator only ever returns problems: mutated manifests never make it raise."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validate_factory import deployment, dump, service

from reconciler.manifests.load import load_text
from reconciler.manifests.validate import validate_documents

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


BASES = [deployment(), service()]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(obj)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(VALUES)
        elif isinstance(parent, dict):
            del parent[path[-1]]
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=3))
def test_mutated_manifests_give_problems_not_exceptions(objects: list[dict[str, Any]]) -> None:
    """Whatever the mutation, validation returns a report and no rule crashes."""
    result = load_text(dump(*objects, service("other", 18099)), source="m.yaml")
    report = validate_documents(result.documents)
    assert all(p.rule != "internal" for p in report.problems), report.problems
    counted = len(report.objects) + len(report.ignored) + report.invalid_resources
    assert counted == report.resources


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    """Any text at all loads into documents and problems."""
    result = load_text(text, source="t.yaml")
    validate_documents(result.documents)
