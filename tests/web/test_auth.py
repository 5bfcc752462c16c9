"""The HTTP server's rules: who may read, who may act, and nothing by GET or from other sites."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from reconciler.store import Store
from reconciler.web.api import ApiContext, build_app
from reconciler.web.auth import load_or_create_token, parse_http
from reconciler.web.events import Hub
from reconciler.web.metrics import Live, Metrics
from reconciler.web.observer import Observer

TOKEN = "s3cret-token-for-the-tests-0123456789"
Check = Callable[[TestClient[Any, Any]], Awaitable[None]]


def serve(tmp_path: Path, check: Check, *, loopback: bool) -> None:
    """Run ``check`` against the real app on a real store (no daemon: reads need none)."""
    state = tmp_path / "state"
    Store.open(state).close()

    async def main() -> None:
        observer = Observer(
            state_dir=state, daemon_store=Store.open(state), hub=Hub(), notifier=None, live=Live()
        )
        ctx = ApiContext(
            token=TOKEN,
            loopback=loopback,
            state_dir=state,
            manifests=tmp_path,
            observer=observer,
            hub=observer.hub,
            live=observer.live,
            metrics=Metrics(observer.live),
            proxy_stats=dict,
            analysis_failures=lambda ref, h: 0,
            ready=lambda: True,
        )
        async with TestClient(TestServer(build_app(ctx), host="127.0.0.1")) as client:
            await check(client)
        await observer.close()

    asyncio.run(main())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, 200, id="no token on loopback"),
        pytest.param(auth("wrong"), 200, id="a wrong token is no token"),
        pytest.param({"Host": "evil.example:18070"}, 403, id="a rebinding host is refused"),
        pytest.param({"Host": "evil.example", **auth(TOKEN)}, 200, id="any host with the token"),
        pytest.param({"Host": "localhost:18070"}, 200, id="localhost"),
    ],
)
def test_reads_on_loopback(tmp_path: Path, headers: dict[str, str], expected: int) -> None:
    """On loopback reads need no token, but only with a Host that names loopback."""

    async def check(client: TestClient[Any, Any]) -> None:
        for path in ("/api/v1/deployments", "/metrics", "/api/v1/namespaces/default/pods"):
            response = await client.get(path, headers=headers)
            assert response.status == expected, path

    serve(tmp_path, check, loopback=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, 401, id="no token"),
        pytest.param(auth("wrong"), 401, id="wrong token"),
        pytest.param({"Authorization": TOKEN}, 401, id="token without Bearer"),
        pytest.param(auth(TOKEN), 200, id="right token"),
    ],
)
def test_reads_off_loopback_need_the_token(
    tmp_path: Path, headers: dict[str, str], expected: int
) -> None:
    """Bound beyond loopback, the API and /metrics need the token; health checks never do."""

    async def check(client: TestClient[Any, Any]) -> None:
        for path in ("/api/v1/deployments", "/metrics", "/api/v1/events", "/api/v1/dashboard"):
            response = await client.get(path, headers=headers)
            assert response.status == expected, path
            if expected == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert (await response.json())["reason"] == "Unauthorized"
        for path in ("/healthz", "/readyz", "/", "/app.js"):
            assert (await client.get(path)).status == 200, path

    serve(tmp_path, check, loopback=False)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, 401, id="no token"),
        pytest.param(auth("wrong"), 401, id="wrong token"),
        pytest.param({**auth(TOKEN), "Origin": "http://evil.example"}, 403, id="other site"),
        pytest.param(auth(TOKEN), 404, id="right token reaches the action"),
    ],
)
def test_actions_need_the_token_and_the_same_origin(
    tmp_path: Path, headers: dict[str, str], expected: int
) -> None:
    """A POST needs the token even on loopback, and is refused from another site's page."""

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post(
            "/api/v1/namespaces/default/deployments/web/promote", headers=headers, json={}
        )
        body = await response.json()
        assert response.status == expected, body
        if expected == 404:  # the CLI ran: its NotFound, word for word
            assert (
                body["message"] == 'Error from server (NotFound): deployments.apps "web" not found'
            )

    serve(tmp_path, check, loopback=True)


def test_no_action_by_get_and_no_redirect(tmp_path: Path) -> None:
    """GET on an action is 405 (nothing happens), and no path answers with a redirect."""

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.get(
            "/api/v1/namespaces/default/deployments/web/promote", headers=auth(TOKEN)
        )
        assert response.status == 405
        for path in ("/%2F%2Fevil.example", "/api/v1/../../etc/passwd", "/index.html/", "/?next=x"):
            response = await client.get(path, allow_redirects=False)
            assert response.status not in (301, 302, 303, 307, 308), path
        page = await client.get("/")
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"

    serve(tmp_path, check, loopback=True)


def test_token_file_is_private_and_kept(tmp_path: Path) -> None:
    """The token is created 0600 at first start, the same at the next, and made 0600 again."""
    first = load_or_create_token(tmp_path)
    path = tmp_path / "http-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    os.chmod(path, 0o644)
    assert load_or_create_token(tmp_path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("off", None, id="off"),
        pytest.param("127.0.0.1:18070", ("127.0.0.1", 18070, True), id="loopback"),
        pytest.param("0.0.0.0:8080", ("0.0.0.0", 8080, False), id="all interfaces"),
        pytest.param("[::1]:9000", ("::1", 9000, True), id="v6 loopback"),
        pytest.param("localhost:1", ("localhost", 1, True), id="localhost"),
    ],
)
def test_parse_http(text: str, expected: tuple[str, int, bool] | None) -> None:
    """--http takes ADDR:PORT, [v6]:PORT or off; loopback decides whether reads need a token."""
    address = parse_http(text)
    if expected is None:
        assert address is None
    else:
        assert address is not None
        assert (address.host, address.port, address.loopback) == expected


@pytest.mark.parametrize("text", ["nonsense", "1.2.3.4:99999", "host:port"])
def test_parse_http_refuses_garbage(text: str) -> None:
    """A bad --http value is an error that shows the forms it takes."""
    from reconciler.errors import ReconcilerError

    with pytest.raises(ReconcilerError, match="expected ADDR:PORT"):
        parse_http(text)
