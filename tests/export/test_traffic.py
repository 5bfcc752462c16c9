"""Request weights and header routes exported as Argo Rollouts' traffic routing (#20 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.export import TrafficRouter, dump_yaml, export_objects
from tests.export.conftest import load_documents, schema_errors
from tests.export.test_warnings import deployment

HERE = Path(__file__).parent
FIXTURE = HERE / "traffic" / "canary-http.yaml"
GOLDEN = HERE / "traffic"
SOURCE = "manifests/canary-http.yaml"
ROUTERS = [None, TrafficRouter.GATEWAY_API, TrafficRouter.ISTIO]


def exported(router: TrafficRouter | None, text: str | None = None) -> Any:
    documents = load_documents(text if text is not None else FIXTURE.read_text(), SOURCE)
    return export_objects(documents, traffic_router=router)


def canary_of(result: Any) -> dict[str, Any]:
    rollout = next(item.obj for item in result.objects if item.kind == "Rollout")
    return dict(rollout["spec"]["strategy"]["canary"])


@pytest.mark.parametrize("router", ROUTERS, ids=[str(r or "none") for r in ROUTERS])
def test_export_matches_the_golden_files(router: TrafficRouter | None) -> None:
    """The objects and warnings of each router are exactly the reviewed golden files."""
    result = exported(router)
    name = str(router or "none")
    assert dump_yaml(result.objects) == (GOLDEN / f"canary-http.{name}.golden").read_text()
    warnings = "".join(p.render() + "\n" for p in result.problems)
    assert warnings == (GOLDEN / f"canary-http.{name}.warnings").read_text()


@pytest.mark.parametrize("router", ROUTERS, ids=[str(r or "none") for r in ROUTERS])
def test_routed_rollouts_pass_the_argo_rollouts_crd(router: TrafficRouter | None) -> None:
    """With or without a router, the Rollout is one the Argo Rollouts CRD accepts."""
    for item in exported(router).objects:
        if item.kind in ("Rollout", "Service"):
            assert schema_errors(item.obj) == [], item.kind


def test_gateway_api_plugin_fields() -> None:
    """gatewayapi: managedRoutes in first-use order, the plugin's httpRoute and namespace."""
    canary = canary_of(exported(TrafficRouter.GATEWAY_API))
    assert canary["trafficRouting"] == {
        "managedRoutes": [{"name": "beta-testers"}, {"name": "shadow"}],
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "shop", "namespace": "store"}},
    }
    assert [next(iter(step)) for step in canary["steps"]].count("setHeaderRoute") == 2


def test_the_http_route_splits_the_called_service_between_stable_and_canary() -> None:
    """The HTTPRoute is attached to the Service clients call; its rule has both backends."""
    route = next(
        i.obj for i in exported(TrafficRouter.GATEWAY_API).objects if i.kind == "HTTPRoute"
    )
    assert route["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "shop", "port": 8180}
    ]
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["port"], r["weight"]) for r in refs] == [
        ("shop-stable", 8181, 100),
        ("shop-canary", 8182, 0),
    ]


def test_istio_virtual_service() -> None:
    """istio: the Rollout names the VirtualService and its primary route, which has both hosts."""
    result = exported(TrafficRouter.ISTIO)
    canary = canary_of(result)
    assert canary["trafficRouting"]["istio"] == {
        "virtualService": {"name": "shop", "routes": ["primary"]}
    }
    service = next(i.obj for i in result.objects if i.kind == "VirtualService")
    assert service["spec"]["hosts"] == ["shop"]
    (primary,) = service["spec"]["http"]
    assert primary["name"] == "primary"
    assert [(d["destination"]["host"], d["weight"]) for d in primary["route"]] == [
        ("shop-stable", 100),
        ("shop-canary", 0),
    ]


def test_without_a_router_route_steps_are_dropped_and_weights_warned() -> None:
    """No router: header and mirror steps go (Argo refuses them), each with a warning."""
    result = exported(None)
    canary = canary_of(result)
    assert "trafficRouting" not in canary
    assert all("setHeaderRoute" not in s and "setMirrorRoute" not in s for s in canary["steps"])
    fields = [p.field for p in result.problems if "--traffic-router" in p.message]
    assert fields == [
        "spec.strategy.canary.steps[0].setWeight",
        "spec.strategy.canary.steps[1].setHeaderRoute",
        "spec.strategy.canary.steps[3].setMirrorRoute",
        "spec.strategy.canary.steps[5].setHeaderRoute",
    ]


def test_a_written_traffic_routing_is_kept() -> None:
    """A trafficRouting in the manifest wins: nothing is added, no route object made."""
    text = FIXTURE.read_text().replace(
        "      steps:\n",
        "      trafficRouting:\n        managedRoutes: [{name: beta-testers}]\n"
        "        istio: {virtualService: {name: mine}}\n      steps:\n",
        1,
    )
    result = exported(TrafficRouter.GATEWAY_API, text)
    assert canary_of(result)["trafficRouting"] == {
        "managedRoutes": [{"name": "beta-testers"}],
        "istio": {"virtualService": {"name": "mine"}},
    }
    assert {i.kind for i in result.objects} == {"Rollout", "Service"}


def test_a_router_needs_stable_and_canary_services() -> None:
    """Without stableService/canaryService there is no routing: the warning names them."""
    text = FIXTURE.read_text().replace("      stableService: shop-stable\n", "", 1)
    result = exported(TrafficRouter.ISTIO, text)
    assert "trafficRouting" not in canary_of(result)
    first = result.problems[0]
    assert first.field == "spec.strategy.canary.stableService"
    assert "add stableService" in first.message
    assert {i.kind for i in result.objects} == {"Rollout", "Service"}


def test_tcp_services_keep_the_plain_canary() -> None:
    """setWeight over a plain TCP Service needs no router: none is written, even if named."""
    text = deployment(
        strategy="  strategy:\n    type: Canary\n    canary:\n"
        "      stableService: a\n      canaryService: b\n      steps: [{setWeight: 50}]",
        spec="  replicas: 2",
    )
    result = exported(TrafficRouter.GATEWAY_API, text)
    assert "trafficRouting" not in canary_of(result)
    assert [i.kind for i in result.objects] == ["Rollout"]


def test_export_cli_takes_the_router(tmp_path: Path) -> None:
    """``reconciler export --traffic-router istio`` in a real process writes the route object."""
    out = subprocess.run(
        [sys.executable, "-m", "reconciler", "export", str(FIXTURE), "--traffic-router", "istio"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(out)]
    assert kinds == ["Rollout", "VirtualService", "Service", "Service", "Service"]
    refused = subprocess.run(
        [sys.executable, "-m", "reconciler", "export", str(FIXTURE), "--traffic-router", "nginx"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "invalid choice: 'nginx'" in refused.stderr


def test_dropped_traffic_analysis_names_its_metrics() -> None:
    """A canary analysis of traffic metrics is dropped with a warning naming each metric."""
    text = deployment(
        strategy="  strategy:\n    type: Canary\n    canary:\n      steps: [{setWeight: 50}]\n"
        "      analysis:\n        interval: 2s\n"
        "        metrics: [{name: success-rate, successRate: {min: 0.95}},"
        " {name: latency, latencyP99: {max: 250ms}}]",
        spec="  replicas: 2",
    )
    (problem,) = [p for p in exported(None, text).problems if p.field.endswith("analysis")]
    assert "repeats this check: the traffic metrics success-rate, latency" in problem.message
    assert "http://" not in problem.message
