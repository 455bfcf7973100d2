"""The HTTP API: ``POST /v1/NAME`` for every use case in ``indsats.usecases.table``, run as the caller the
kernel named (on the unix socket) or the login of a verified bearer token (over TCP, ``--listen``, behind
``BearerIdentity``). The API takes no user name anywhere.

A request's body is ``{"args": {...}}`` (values as ``indsats.wire`` encodes them); the answer is
``{"value": ..., "files": [[path, text], ...]}`` (files the caller writes on its own side), or a problem
document (``indsats.server.problems``). A use case marked ``streams`` (``stuck``) answers a request that
accepts ``application/x-ndjson`` (the CLI's client) with its items as they are read, a JSON line each
(``indsats.server.stream``); any other request gets the one ``value``, as before.

The use cases block on the database, so they run off the event loop. On SQLite, which lets one transaction
write at a time, those that write run one after another on one thread of their own (``Writes``): no two of
this server's writers wait on each other in SQLite's busy handler, and the one connection they share keeps its
page cache (a connection's cache is dropped whenever another connection wrote). Those marked ``reads`` run in
Starlette's thread pool beside them, as every use case does on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from indsats.errors import IndsatsError, Invalid, NotAllowed
from indsats.server.peer import EXTENSION, LOGIN_EXTENSION, Peer, login_of
from indsats.server.problems import MEDIA_TYPE, problem_of
from indsats.server.stream import MEDIA_TYPE as STREAM_MEDIA_TYPE
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.context import Context

log = logging.getLogger("indsats.server")
VIA_API = "api"  # the access log's door for a read by a bearer token (the web view's /api says the same)


def build_app(ctx: Context, settings: Settings) -> Starlette:
    """The application over one context, built once: plans, machines, the calendar and the database engine
    stay warm between requests."""
    from indsats.usecases.table import USE_CASES

    writes = Writes() if ctx.db.is_sqlite else None

    def endpoint(name: str) -> Any:
        one_by_one = writes is not None and not USE_CASES[name].reads

        async def handle(request: Request) -> Response:
            extensions = request.scope.get("extensions") or {}
            peer, bearer = extensions.get(EXTENSION), extensions.get(LOGIN_EXTENSION)
            body = await request.body()
            lines = STREAM_MEDIA_TYPE in request.headers.get("accept", "")  # the client takes a stream
            # The engine's database calls block: they run off the event loop (see the module's text).
            if one_by_one:
                assert writes is not None
                return await writes.run(_handle, peer, bearer, body, name, ctx, settings, lines)
            return await run_in_threadpool(_handle, peer, bearer, body, name, ctx, settings, lines)

        return handle

    routes = [Route(f"/v1/{name}", endpoint(name), methods=["POST"], name=name) for name in USE_CASES]
    return Starlette(routes=routes, exception_handlers={404: _no_route, 405: _no_route})


class Writes:
    """One thread for the use cases that write (SQLite): they run in the order they came, one at a time."""

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None

    async def run(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:  # made in the event loop's thread, on the first request
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indsats-writes")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)


def _handle(peer: Peer | None, bearer: str | None, body: bytes, name: str, ctx: Context,
            settings: Settings, lines: bool = False) -> Response:
    """Run ``name`` as the caller: the socket's peer (the kernel's word) or else a bearer token's login."""
    from indsats import wire
    from indsats.adapters.files import CapturedFiles
    from indsats.usecases import Call, use_case

    started = time.perf_counter()
    login = "?"
    status = 200
    try:
        if peer is not None:
            login = login_of(peer.uid)
        elif isinstance(bearer, str) and bearer:
            login = bearer
        else:
            raise NotAllowed(_("the server answers only on its unix socket, where the kernel names the caller, "
                               "or over --listen to a bearer token"))
        try:
            args = wire.decode(json.loads(body or b"{}").get("args", {}))
        except (ValueError, AttributeError):
            raise Invalid(_("the request is not JSON of the form {form}").format(form='{"args": {...}}')) from None
        if not isinstance(args, dict):
            raise Invalid(_("the request's args must be an object"))
        if use_case(name).direct_only:
            raise NotAllowed(_("'{name}' runs directly on the database, as the server's service user").format(name=name))
        if peer is None:
            args = _via_api(name, args)
        files = CapturedFiles()
        call = Call(ctx=dataclasses.replace(ctx, files=files), actor=login, settings=settings, served=True)
        streams = use_case(name).streams
        if streams and lines:
            from starlette.responses import StreamingResponse

            from indsats.server.stream import Producer

            producer = Producer(lambda: _run(name, call, args))
            producer.start()
            producer.first()  # an error before the first item is a problem document, as any other
            return StreamingResponse(producer.body(), media_type=STREAM_MEDIA_TYPE)
        value = _run(name, call, args)
        if streams:
            value = list(value)  # a caller that did not ask for lines gets the one value, as always
        return JSONResponse({"value": wire.encode(value), "files": files.files})
    except Exception as exc:
        if not isinstance(exc, IndsatsError):
            log.error("use case failed unexpectedly", exc_info=exc, extra={"fields": {
                "use_case": name, "uid": None if peer is None else peer.uid, "error": type(exc).__name__}})
        problem = problem_of(exc)
        status = problem["status"]
        return JSONResponse(problem, status_code=status, media_type=MEDIA_TYPE)
    finally:
        # The access log: the kernel-verified caller, the use case and the outcome; never arguments (they
        # may carry personal data).
        log.info("request", extra={"fields": {
            "uid": None if peer is None else peer.uid, "login": login, "use_case": name, "status": status,
            "ms": round((time.perf_counter() - started) * 1000)}})


def _run(name: str, call: Any, args: dict[str, Any]) -> Any:
    from indsats.usecases import run

    try:
        return run(name, call, args)
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        raise Invalid(_("bad arguments for '{name}': {error}").format(name=name, error=exc)) from None


def _via_api(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A read over TCP is logged as through the API (``via: api``, as the web view's ``/api``), whatever the
    request says: the access log names the door, not the client."""
    import inspect

    from indsats.usecases import use_case

    if "via" in inspect.signature(use_case(name).function()).parameters:
        return {**args, "via": VIA_API}
    return args


async def _no_route(request: Request, exc: Exception) -> Response:
    problem = problem_of(Invalid(_("no such use case: {method} {path}").format(method=request.method,
                                                                              path=request.url.path)))
    return JSONResponse(problem, status_code=404, media_type=MEDIA_TYPE)
