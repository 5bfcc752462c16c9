"""Debian's chromium, headless, driven by Selenium through Debian's chromedriver.

Under CI (``CI=true``) the browser must be there (``.ci/run`` installs it); elsewhere a missing
one skips the test and says why. Nothing is downloaded: the binaries are given by path, and
the flags keep Chromium off the network (no component updates, sync or background fetches).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

CHROMIUM = os.environ.get("RECONCILER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RECONCILER_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--window-size=1280,900",
)
T = TypeVar("T")


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = f"{', '.join(missing)} not found: apt-get install -y chromium chromium-driver"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the dashboard tests: {reason}")
    print(f"skipping the dashboard test: {reason}")
    pytest.skip(reason)


@pytest.fixture
def chrome() -> Iterator[Any]:
    """A fresh headless Chromium with its own profile, quit afterwards."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="reconciler-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def until(
    driver: Any, predicate: Callable[[], T | None], *, timeout: float = 30.0, what: str = ""
) -> T:
    """Poll the page until ``predicate()`` is truthy (a browser-side wait with a deadline)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: last={last!r}")
