"""The HTTP routes: ``/metrics``, ``/healthz``, ``/readyz``, ``/api/v1/...`` and the dashboard.

Reads (all ``GET``)::

    /api/v1/{deployments,replicasets,pods,services,events}          every namespace
    /api/v1/namespaces/NS/{deployments,replicasets,pods,services,events}[/NAME]
    /api/v1/namespaces/NS/deployments/NAME/rollout    the dashboard's document (tree, weights)
    /api/v1/namespaces/NS/deployments/NAME/history    revisions, causes, pod templates
    /api/v1/namespaces/NS/deployments/NAME/diff?from=A&to=B   unified diff of two revisions
    /api/v1/dashboard                                  every document + the last 200 events
    /api/v1/stream                                     Server-Sent Events (events.py)

Actions (``POST`` with ``Authorization: Bearer TOKEN``; ``actions.py`` runs the CLI)::

    /api/v1/namespaces/NS/deployments/NAME/{pause,resume,promote,abort,retry,restart,undo}

Lists are ``get -o json``'s ``List``; a missing object is 404 with kubectl's NotFound text.
Errors are Kubernetes ``Status`` objects. Auth rules: ``auth.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.cli.analysis_view import analysis_document
from reconciler.cli.get import _NOT_FOUND
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store
from reconciler.web import views
from reconciler.web.actions import Action, run_action
from reconciler.web.auth import bearer_matches, host_is_loopback, same_origin
from reconciler.web.events import Hub, sse_message
from reconciler.web.metrics import Live, Metrics
from reconciler.web.observer import Observer, event_json
from reconciler.web.traffic_metrics import Totals

__all__ = ["ApiContext", "build_app"]

log = get_logger(component="web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class ApiContext:
    token: str
    loopback: bool  # the server's bind address: reads are open only on loopback
    state_dir: Path
    manifests: Path
    observer: Observer
    hub: Hub
    live: Live
    metrics: Metrics
    proxy_stats: Callable[[], Mapping[str, Any]]
    analysis_failures: Callable[[ObjectRef, str], int]
    ready: Callable[[], bool]
    traffic: Callable[[], Totals] = dict  # requests per Service and revision (#20)


def status(code: int, message: str, reason: str) -> web.Response:
    """A Kubernetes ``Status`` (what kubectl shows for an API error)."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="reconciler"'} if code == 401 else None
    return web.json_response(body, status=code, headers=headers)


def _guard(ctx: ApiContext) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path not in ("/healthz", "/readyz"):
            authed = bearer_matches(request.headers.get("Authorization"), ctx.token)
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                if not same_origin(
                    request.headers.get("Origin"), scheme=request.scheme, host=request.host
                ):
                    return status(403, "cross-origin request refused", "Forbidden")
                if not authed:
                    return status(
                        401,
                        "Unauthorized: send Authorization: Bearer TOKEN "
                        f"(the token is in {ctx.state_dir}/http-token)",
                        "Unauthorized",
                    )
            elif (path.startswith("/api/") or path == "/metrics") and not authed:
                if not ctx.loopback:
                    return status(
                        401,
                        "Unauthorized: this server is not on loopback; send "
                        "Authorization: Bearer TOKEN",
                        "Unauthorized",
                    )
                if not host_is_loopback(request.url.host or ""):
                    return status(
                        403,
                        f"Host {request.host!r} is not a loopback name: send the token",
                        "Forbidden",
                    )
        response = await handler(request)
        response.headers.update(_SECURITY_HEADERS)
        if path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return guard


def _json(data: Any) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json",
    )


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": items}


def build_app(ctx: ApiContext) -> web.Application:
    app = web.Application(middlewares=[_guard(ctx)], client_max_size=64 * 1024)
    dashboard = resources.files("reconciler.web") / "dashboard"
    files = {path: (dashboard / name).read_bytes() for path, (name, _) in _STATIC.items()}
    obs = ctx.observer

    async def static(request: web.Request) -> web.Response:
        _, kind = _STATIC[request.path]
        return web.Response(
            body=files[request.path], headers={"Content-Type": kind, "Cache-Control": "no-cache"}
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(obs.read(lambda s: s.get_meta("manifests_dir")), 5)
            store_ok = True
        except Exception:
            store_ok = False
        checks = [("sync", ctx.ready()), ("store", store_ok)]
        text = "".join(
            f"[{'+' if ok else '-'}]{name} {'ok' if ok else 'failed'}\n" for name, ok in checks
        )
        passed = all(ok for _, ok in checks)
        text += "readyz check passed\n" if passed else "readyz check failed\n"
        return web.Response(text=text, status=200 if passed else 503)

    async def metrics(request: web.Request) -> web.Response:
        stats = ctx.proxy_stats()
        obs.announce(await obs.read(obs.catch_up))  # events the poll has not counted yet
        body = await obs.read(
            lambda s: ctx.metrics.render(
                s, stats=stats, analysis_failures=ctx.analysis_failures, traffic=ctx.traffic()
            )
        )
        return web.Response(
            body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )

    def _kind(request: web.Request) -> Kind:
        word = request.match_info["kind"]
        if word not in views.KINDS:
            raise web.HTTPNotFound(text=f"no resource type {word!r}")
        return views.KINDS[word]

    async def list_kind(request: web.Request) -> web.Response:
        namespace = request.match_info.get("namespace")
        if request.match_info["kind"] == "events":
            rows = await obs.read(lambda s: s.list_events(namespace=namespace))
            return _json(_listing([event_json(e) for e in rows]))
        kind = _kind(request)
        items = await obs.read(lambda s: views.list_json(s, kind, namespace))
        return _json(_listing(items))

    async def get_one(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        kind = _kind(request)
        items = await obs.read(lambda s: views.list_json(s, kind, namespace, [name]))
        if not items:
            return status(404, f'{_NOT_FOUND[kind]} "{name}" not found', "NotFound")
        return _json(items[0])

    def _ref(request: web.Request) -> ObjectRef:
        return ObjectRef(
            Kind.DEPLOYMENT, request.match_info["namespace"], request.match_info["name"]
        )

    def _missing(ref: ObjectRef) -> web.Response:
        return status(404, f'deployments.apps "{ref.name}" not found', "NotFound")

    async def rollout(request: web.Request) -> web.Response:
        ref, stats = _ref(request), ctx.proxy_stats()

        def read(s: Store) -> list[dict[str, Any]]:
            docs = views.deployment_documents(s, only={ref}, stats=stats)
            if docs and (obj := s.get_object(ref)) is not None:  # #20: measured metrics
                docs[0]["analysis"] = analysis_document(s, obj, now=time.time())
            return docs

        docs = await obs.read(read)
        return _json(docs[0]) if docs else _missing(ref)

    async def history(request: web.Request) -> web.Response:
        ref = _ref(request)

        def read(s: Store) -> list[dict[str, Any]] | None:
            return views.history_document(s, ref) if s.get_object(ref) else None

        items = await obs.read(read)
        return _missing(ref) if items is None else _json({"revisions": items})

    async def diff(request: web.Request) -> web.Response:
        ref = _ref(request)
        try:
            old, new = int(request.query["from"]), int(request.query["to"])
        except (KeyError, ValueError):
            return status(400, "from and to must be revision numbers", "BadRequest")
        text = await obs.read(lambda s: views.revision_diff(s, ref, old, new))
        if text is None:
            return status(404, f'deployment "{ref.name}": no revision {old} or {new}', "NotFound")
        return _json({"from": old, "to": new, "diff": text})

    async def dashboard_doc(request: web.Request) -> web.Response:
        stats = ctx.proxy_stats()

        def read(s: Store) -> dict[str, Any]:
            events = s.list_events()[-200:]
            return {
                "deployments": views.deployment_documents(s, stats=stats),
                "events": [event_json(e) for e in events],
                "now": time.time(),
            }

        return _json(await obs.read(read))

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        response.headers.update(_SECURITY_HEADERS)
        await response.prepare(request)
        async with ctx.hub.subscribe() as subscriber:
            try:
                await response.write(sse_message("hello", {"now": time.time()}))
                while True:
                    try:
                        message = await asyncio.wait_for(subscriber.queue.get(), 15)
                    except TimeoutError:
                        await response.write(b": keep-alive\n\n")
                        continue
                    await response.write(message)
                    if subscriber.overflowed and subscriber.queue.empty():
                        break
            except ConnectionError:
                pass  # the page went away
        return response

    async def act(request: web.Request) -> web.Response:
        ref = _ref(request)
        try:
            action = Action(request.match_info["action"])
        except ValueError:
            return status(
                404,
                f"no action {request.match_info['action']!r} (pause, resume, "
                "promote, abort, retry, restart, undo)",
                "NotFound",
            )
        options: dict[str, Any] = {}
        if request.can_read_body:
            try:
                options = await request.json()
            except ValueError:
                return status(400, "the body must be a JSON object", "BadRequest")
            if not isinstance(options, dict):
                return status(400, "the body must be a JSON object", "BadRequest")
        try:
            result = await run_action(
                action,
                namespace=ref.namespace,
                name=ref.name,
                options=options,
                state_dir=ctx.state_dir,
                manifests=ctx.manifests,
            )
        except TimeoutError:
            return status(504, f"'rollout {action}' did not finish in time", "Timeout")
        log.info("web_action", action=str(action), deployment=ref.key, code=result.code)
        code = result.http_status
        message = result.output if result.code == 0 else (result.error or result.output)
        body = status(
            code,
            message,
            "OK" if code == 200 else {404: "NotFound", 400: "BadRequest"}.get(code, "Conflict"),
        )
        return body

    for path in _STATIC:
        app.router.add_get(path, static)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/dashboard", dashboard_doc)
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/{kind}", list_kind)
    app.router.add_get("/api/v1/namespaces/{namespace}/{kind}", list_kind)
    app.router.add_get("/api/v1/namespaces/{namespace}/{kind}/{name}", get_one)
    base = "/api/v1/namespaces/{namespace}/deployments/{name}"
    app.router.add_get(base + "/rollout", rollout)
    app.router.add_get(base + "/history", history)
    app.router.add_get(base + "/diff", diff)
    app.router.add_post(base + "/{action}", act)
    return app
