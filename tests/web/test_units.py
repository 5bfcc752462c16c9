"""The web package's pure parts: transitions, the metrics writer, and its docstring examples."""

from __future__ import annotations

import doctest
import importlib
import json
import re
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.engine.model import EventRecord
from reconciler.store import Store
from reconciler.web.kube_metrics import counter, gauge
from reconciler.web.metrics import Live, Metrics
from reconciler.web.transitions import Tracked, next_transitions


@pytest.mark.parametrize(
    "name",
    [
        "reconciler.web.actions",
        "reconciler.web.auth",
        "reconciler.web.events",
        "reconciler.web.kube_metrics",
        "reconciler.web.transitions",
        "reconciler.web.webhooks",
    ],
)
def test_docstring_examples(name: str) -> None:
    """Every >>> example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def status(hash_: str, phase: str, message: str = "") -> dict[str, Any]:
    return {"rollout": {"currentPodHash": hash_, "phase": phase, "message": message}}


@pytest.mark.parametrize(
    ("before", "after", "events", "expected"),
    [
        pytest.param(
            Tracked("a", "Healthy"), status("b", "Progressing"), [], ["started"], id="new revision"
        ),
        pytest.param(
            Tracked("b", "Progressing", "b"),
            status("b", "Paused", "CanaryPauseStep"),
            [],
            ["paused"],
            id="a canary step pauses",
        ),
        pytest.param(
            Tracked("b", "Paused", "b"),
            status("b", "Progressing"),
            [EventRecord("Normal", "RolloutPromoted", "Rollout promoted")],
            ["promoted"],
            id="promote",
        ),
        pytest.param(
            Tracked("b", "Progressing", "b"),
            status("b", "Degraded", "RolloutAborted: Rollout aborted update to revision 2"),
            [EventRecord("Warning", "RolloutAborted", "Rollout aborted update to revision 2")],
            ["aborted"],
            id="an abort is not also a degradation",
        ),
        pytest.param(
            Tracked("b", "Progressing", "b"),
            status("b", "Degraded", 'ImagePullBackOff: pod "x" is in ImagePullBackOff'),
            [EventRecord("Warning", "RolledBack", "Rolling back to revision 1")],
            ["degraded", "rolled-back"],
            id="fails fast, then rolls back",
        ),
        pytest.param(
            Tracked("b", "Progressing", "b"),
            status("b", "Healthy"),
            [],
            ["completed"],
            id="the revision completes",
        ),
        pytest.param(
            Tracked("b", "Healthy", ""),
            status("b", "Progressing"),
            [],
            [],
            id="a scale-up is no rollout",
        ),
        pytest.param(
            Tracked("b", "Healthy", ""),
            status("b", "Healthy"),
            [],
            [],
            id="nothing happened",
        ),
        pytest.param(None, status("a", "Progressing"), [], ["started"], id="a new deployment"),
    ],
)
def test_transitions(
    before: Tracked | None, after: dict[str, Any], events: list[EventRecord], expected: list[str]
) -> None:
    """Consecutive passes name each rollout transition once, in the order it happened."""
    _, notices = next_transitions(before, after, events)
    assert [str(n.transition) for n in notices] == expected


def test_writer_output_parses_as_prometheus_text() -> None:
    """Label values with quotes, backslashes and newlines survive prometheus-client's parser."""
    family = gauge("x_info", "help with \\ and\nnewline", ("a", "b"))
    family.add(['q"uote', "back\\slash\nline"], 1.0)
    total = counter("y_total", "a counter", ("c",))
    total.add(["1"], 3.0)
    untyped = counter("notification_send_success", "Argo's name", ("c",))
    untyped.add(["1"], 2.0)
    out: list[str] = []
    for f in (family, total, untyped):
        f.render(out)
    parsed = {f.name: f for f in text_string_to_metric_families("".join(out))}
    sample = parsed["x_info"].samples[0]
    assert sample.labels == {"a": 'q"uote', "b": "back\\slash\nline"}
    assert parsed["y"].type == "counter" and parsed["y"].samples[0].value == 3.0
    assert parsed["notification_send_success"].samples[0].name == "notification_send_success"


def test_grafana_dashboard_uses_only_served_metrics() -> None:
    """Every metric the Grafana dashboard queries is one /metrics serves (its HELP/TYPE lines)."""
    text = (resources.files("reconciler.web") / "grafana-dashboard.json").read_text()
    dashboard = json.loads(text)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"]
        for v in dashboard["templating"]["list"]
        if "query" in v and isinstance(v["query"], dict)
    ]
    used = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for expr in exprs
        for name in re.findall(
            r"\b((?:kube|rollout|reconciler|notification|process)_[a-z_]+)", expr
        )
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        body = Metrics(Live()).render(store, stats={}).decode()
        store.close()
    served = set(re.findall(r"^# TYPE (\S+)", body, re.MULTILINE))
    assert len(used) > 15
    assert used - served == set()


def test_webhook_urls_are_checked() -> None:
    """--webhook takes http(s) URLs only (an error at start); a bad annotation is ignored."""
    from reconciler.errors import ReconcilerError
    from reconciler.web.webhooks import WEBHOOK_ANNOTATION, Notifier

    with pytest.raises(ReconcilerError, match="is not http or https"):
        Notifier(["file:///etc/passwd"], Live())
    notifier = Notifier(["http://127.0.0.1:9/a"], Live())
    assert notifier.targets({WEBHOOK_ANNOTATION: "gopher://x"}) == ["http://127.0.0.1:9/a"]
    assert notifier.targets({WEBHOOK_ANNOTATION: "https://hooks.example/b"}) == [
        "http://127.0.0.1:9/a",
        "https://hooks.example/b",
    ]
