"""Rules of a canary's header routes, mirror routes and analysis metrics (#20), with positions."""

from __future__ import annotations

from typing import Any

from validate_factory import deployment, dump

from reconciler.errors import Problem, Severity
from reconciler.manifests.load import load_text
from reconciler.manifests.validate import Report, validate_documents

BASE = "spec.strategy.canary"


def canary(steps: list[dict[str, Any]], analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = deployment()
    block: dict[str, Any] = {"steps": steps}
    if analysis is not None:
        block["analysis"] = analysis
    obj["spec"]["strategy"] = {"type": "Canary", "canary": block}
    return obj


def check(obj: dict[str, Any]) -> Report:
    return validate_documents(load_text(dump(obj), source="m.yaml").documents)


def problems(report: Report, severity: Severity = Severity.ERROR) -> list[Problem]:
    return [p for p in report.problems if p.severity is severity]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


ROUTE = {
    "setHeaderRoute": {
        "name": "beta",
        "match": [{"headerName": "X-Beta", "headerValue": {"exact": "1"}}],
    }
}


def test_header_route_and_metrics_are_valid() -> None:
    """A header route, its removal, and metrics without httpGet validate with no problem."""
    obj = canary(
        [{"setWeight": 10}, ROUTE, {"pause": {}}, {"setHeaderRoute": {"name": "beta"}}],
        {
            "interval": "2s",
            "metrics": [
                {
                    "name": "success-rate",
                    "successRate": {"min": 0.95},
                    "minRequests": 50,
                    "window": "10s",
                },
                {"name": "latency", "latencyP99": {"max": "250ms"}},
            ],
        },
    )
    report = check(obj)
    assert report.problems == []


def test_bad_regex_is_an_error_at_its_line_and_column() -> None:
    """A headerValue.regex that does not compile names the field, its line and the regex error."""
    obj = canary(
        [
            {
                "setHeaderRoute": {
                    "name": "r",
                    "match": [{"headerName": "X", "headerValue": {"regex": "a("}}],
                }
            }
        ]
    )
    text = dump(obj)
    report = check(obj)
    [problem] = problems(report)
    assert problem.field == f"{BASE}.steps[0].setHeaderRoute.match[0].headerValue.regex"
    assert problem.rule == "header-route"
    assert "must be a valid regular expression" in problem.message
    assert problem.line == _line_of(text, "regex:")
    assert problem.column > 1


def test_header_value_needs_exactly_one_kind() -> None:
    """headerValue with both exact and prefix is refused by the schema."""
    obj = canary(
        [
            {
                "setHeaderRoute": {
                    "name": "r",
                    "match": [{"headerName": "X", "headerValue": {"exact": "a", "prefix": "b"}}],
                }
            }
        ]
    )
    [problem] = problems(check(obj))
    assert "headerValue" in problem.field


def test_removing_a_route_never_set_warns() -> None:
    """A setHeaderRoute without match that names no route set before is a warning."""
    report = check(canary([{"setWeight": 10}, {"setHeaderRoute": {"name": "ghost"}}]))
    [warning] = problems(report, Severity.WARNING)
    assert warning.field == f"{BASE}.steps[1].setHeaderRoute.name"
    assert report.ok


def test_mirror_route_warns_not_supported() -> None:
    """setMirrorRoute is accepted with a warning that this host does not mirror requests."""
    report = check(canary([{"setMirrorRoute": {"name": "m", "percentage": 10}}]))
    [warning] = problems(report, Severity.WARNING)
    assert warning.field == f"{BASE}.steps[0].setMirrorRoute"
    assert "does not mirror" in warning.message
    assert report.ok


def test_analysis_needs_http_get_or_metrics() -> None:
    """An analysis with neither httpGet nor metrics is an error naming both."""
    [problem] = problems(check(canary([{"setWeight": 10}], {"interval": "2s"})))
    assert problem.field == f"{BASE}.analysis.httpGet"
    assert "metrics" in problem.message


def test_metric_with_two_measures_or_none_is_an_error() -> None:
    """A metric measures exactly one of successRate or latencyP99."""
    both = {"name": "m", "successRate": {"min": 0.9}, "latencyP99": {"max": "1s"}}
    [problem] = problems(check(canary([{"setWeight": 10}], {"metrics": [both]})))
    assert problem.field == f"{BASE}.analysis.metrics[0].latencyP99"
    assert problem.message.startswith("Forbidden:")
    [problem] = problems(check(canary([{"setWeight": 10}], {"metrics": [{"name": "m"}]})))
    assert problem.field == f"{BASE}.analysis.metrics[0]"
    assert problem.message.startswith("Required value:")


def test_metric_durations_and_names() -> None:
    """A latency bound or window that does not parse, and a repeated metric name, are errors."""
    metrics = [
        {"name": "m", "latencyP99": {"max": "fast"}},
        {"name": "m", "successRate": {"min": 0.9}, "window": "soon"},
    ]
    found = {
        (p.field, p.rule)
        for p in problems(check(canary([{"setWeight": 10}], {"metrics": metrics})))
    }
    assert found == {
        (f"{BASE}.analysis.metrics[0].latencyP99.max", "duration"),
        (f"{BASE}.analysis.metrics[1].window", "duration"),
        (f"{BASE}.analysis.metrics[1].name", "analysis-metric"),
    }


def test_success_rate_bound_is_a_share() -> None:
    """successRate.min above 1 is refused by the schema."""
    metric = {"name": "m", "successRate": {"min": 95}}
    [problem] = problems(check(canary([{"setWeight": 10}], {"metrics": [metric]})))
    assert problem.field == f"{BASE}.analysis.metrics[0].successRate.min"


def test_header_route_at_weight_zero_warns() -> None:
    """A header route before any setWeight has no canary pod to go to: a warning says so."""
    [warning] = problems(check(canary([ROUTE, {"pause": {}}])), Severity.WARNING)
    assert warning.field == f"{BASE}.steps[0].setHeaderRoute"
    assert "setWeight 0" in warning.message


def test_app_protocol_other_than_http_warns() -> None:
    """appProtocol: http is understood silently; another value warns it is proxied as TCP."""
    from validate_factory import service

    svc = service()
    svc["spec"]["ports"][0]["appProtocol"] = "http"
    assert check(svc).problems == []
    svc["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/h2c"
    [warning] = problems(check(svc), Severity.WARNING)
    assert warning.field == "spec.ports[0].appProtocol"
    assert "plain TCP" in warning.message


def test_metrics_without_an_http_service_warn() -> None:
    """Metrics on a canary whose Services have no appProtocol: http port warn they would never
    have a verdict; with one, no warning."""
    from validate_factory import service

    metrics = {"metrics": [{"name": "sr", "successRate": {"min": 0.9}}]}
    obj, svc = canary([{"setWeight": 10}], metrics), service()
    report = validate_documents(load_text(dump(obj, svc), source="m.yaml").documents)
    [warning] = problems(report, Severity.WARNING)
    assert warning.field == f"{BASE}.analysis.metrics"
    assert "appProtocol: http" in warning.message
    assert "web (m.yaml:" in warning.message
    svc["spec"]["ports"][0]["appProtocol"] = "http"
    report = validate_documents(load_text(dump(obj, svc), source="m.yaml").documents)
    assert report.problems == []
