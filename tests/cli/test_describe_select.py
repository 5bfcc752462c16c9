"""``describe TYPE -l SELECTOR`` and ``describe TYPE`` with no name: every matching object."""

from __future__ import annotations

import pytest
from test_read_world import World, world_fixture  # noqa: F401 - the world fixture


def _pages(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("Name:")]


def test_describe_kind_without_name_describes_all(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`describe deployments` prints one page per Deployment, by name, a blank line between."""
    world.deployment("web")
    world.deployment("api")
    assert world.cli("describe", "deployments") == 0
    out = capsys.readouterr().out
    assert _pages(out) == ["api", "web"]
    assert "\n\n\nName:" in out


def test_describe_pods_with_selector(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`describe pods -l app=web` describes the pods whose labels match, and only those."""
    world.deployment("web")
    world.deployment("api")
    web = world.revision("web", image="web:1", replicas=1)
    api = world.revision("api", image="api:1", replicas=1)
    world.pod(web, "aaaaa")
    world.pod(api, "bbbbb")
    assert world.cli("describe", "pods", "-l", "app=web") == 0
    assert _pages(capsys.readouterr().out) == [f"{web.name}-aaaaa"]


def test_describe_selector_matching_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """No match: kubectl's `No resources found in default namespace.` on stderr, exit 0."""
    world.deployment("web")
    assert world.cli("describe", "deploy", "-l", "app=nope") == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "No resources found in default namespace.\n")


def test_describe_name_and_selector_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name with -l is kubectl's usage error (exit 2)."""
    world.deployment("web")
    assert world.cli("describe", "deploy", "web", "-l", "app=web") == 2
    assert "name cannot be provided when a selector is specified" in capsys.readouterr().err


def test_describe_selector_has_kubectls_grammar(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`!=`, `in` and `!key` select as in `get`; a malformed selector is a usage error (exit 2)."""
    world.deployment("web")
    world.deployment("api")
    assert world.cli("describe", "deploy", "-l", "app!=web") == 0
    assert _pages(capsys.readouterr().out) == ["api"]
    assert world.cli("describe", "deploy", "-l", "app in (web,api)") == 0
    assert _pages(capsys.readouterr().out) == ["api", "web"]
    assert world.cli("describe", "deploy", "-l", "!app") == 0
    assert _pages(capsys.readouterr().out) == []
    assert world.cli("describe", "deploy", "-l", "app in (web") == 2
    assert "error:" in capsys.readouterr().err
