"""The dashboard in a real headless Chromium: live list, a rolling update, a canary, promote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import wait_for
from tests.e2e.test_walkthrough import write
from tests.ports import free_port
from tests.web.browser import chrome, until
from tests.web.manifests import canary, rolling

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["chrome"]

CARD = "document.querySelector('[data-deployment=\"default/{name}\"] {part}')"


def card(driver: Any, name: str, part: str) -> str:
    """The text of one part of a deployment's card ('' while it is not there)."""
    script = f"const el = {CARD.format(name=name, part=part)}; return el ? el.textContent : ''"
    return str(driver.execute_script(script)).strip()


def click(driver: Any, selector: str) -> None:
    """Click what is there now (the page re-renders live, so no element handle is kept)."""
    assert driver.execute_script(
        "const el = document.querySelector(arguments[0]); if (el) el.click(); return !!el",
        selector,
    ), selector


def test_dashboard_follows_rollouts_live_and_promotes(
    folder: Path, start_daemon: Any, token: str, chrome: Any, tmp_path: Path
) -> None:
    """The list shows every deployment; a rolling update and a canary pause appear without a
    reload; the promote button (token entered once) finishes the canary."""
    port = free_port()
    write(folder, "web", rolling("web", "demo:1", token=token, replicas=1))
    write(folder, "cn", canary("cn", "demo:1", token=token, port=port))
    daemon = start_daemon()
    wait_for(
        lambda: daemon.status("cn").get("rollout", {}).get("phase") == "Healthy", what="cn healthy"
    )
    chrome.get(daemon.http_url() + "/")
    until(
        chrome,
        lambda: (
            card(chrome, "web", "[data-phase]") == "Healthy"
            and card(chrome, "cn", "[data-phase]") == "Healthy"
        ),
        what="both deployments listed",
    )
    assert card(chrome, "cn", "[data-ready]") == "2/2"
    chrome.execute_script("window.__noReload = true")
    chrome.save_screenshot(str(tmp_path / "1-list.png"))

    # a rolling update, followed live to the new image
    write(folder, "web", rolling("web", "demo:2", token=token, replicas=1))
    until(
        chrome,
        lambda: (
            card(chrome, "web", "[data-images]") == "demo:2"
            and card(chrome, "web", "[data-phase]") == "Healthy"
        ),
        what="web on demo:2",
    )

    # a canary at its pause: the weight is on the card and on the detail page
    write(folder, "cn", canary("cn", "demo:2", token=token, port=port))
    until(
        chrome,
        lambda: (
            card(chrome, "cn", "[data-phase]") == "Paused"
            and card(chrome, "cn", "[data-weight]") == "50%"
        ),
        what="cn paused at 50%",
    )
    click(chrome, '[data-deployment="default/cn"]')
    weight = until(
        chrome,
        lambda: chrome.execute_script(
            "const el = document.querySelector('[data-canary-weight]'); return el && el.textContent"
        ),
        what="detail page",
    )
    assert "actual 50%" in weight
    tree = chrome.execute_script("return document.querySelector('[data-tree]').innerText")
    assert "revision:2" in tree and "revision:1" in tree and "canary" in tree
    chrome.save_screenshot(str(tmp_path / "2-canary-paused.png"))

    # promote: the token once (kept in the browser), then the button
    chrome.find_element("id", "token-button").click()
    chrome.find_element("id", "token-input").send_keys(daemon.http_token())
    chrome.find_element("css selector", "#token-form button[type=submit]").click()
    click(chrome, '[data-action="promote"]')
    until(
        chrome,
        lambda: "rollout 'cn' promoted" in chrome.find_element("id", "banner").text,
        what="the CLI's confirmation",
    )
    until(
        chrome,
        lambda: (
            card(chrome, "cn", "[data-phase]") == "Healthy"
            and card(chrome, "cn", "[data-images]") == "demo:2 (stable)"
        ),
        what="cn on demo:2",
    )
    assert chrome.execute_script("return localStorage.getItem('reconciler.token')") == (
        daemon.http_token()
    )
    assert chrome.execute_script("return window.__noReload") is True  # live, never reloaded
    # the history: a diff between the two revisions
    until(
        chrome,
        lambda: (
            chrome.execute_script(
                "return document.querySelectorAll('[data-history] input[name=from]').length"
            )
            == 2
        ),
        what="two revisions in the history",
    )
    click(chrome, "#diff-button")
    diff = until(
        chrome,
        lambda: chrome.execute_script(
            "const el = document.querySelector('[data-diff]'); return el && el.innerText"
        ),
        what="the diff",
    )
    assert "-    image: demo:1" in diff and "+    image: demo:2" in diff, diff
    chrome.save_screenshot(str(tmp_path / "3-promoted.png"))

    # readable on a phone: one column, nothing wider than the screen
    chrome.set_window_size(390, 844)
    chrome.get(daemon.http_url() + "/#/default/cn")
    until(
        chrome,
        lambda: chrome.execute_script("return document.querySelector('[data-summary]') !== null"),
        what="phone detail",
    )
    chrome.save_screenshot(str(tmp_path / "4-phone.png"))
    widths = chrome.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], widths
