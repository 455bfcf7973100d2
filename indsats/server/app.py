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

Group commit (SQLite): the requests for a use case marked ``batches`` (``advance``) that wait together for the
write thread run in one transaction, each in a savepoint of its own (``indsats.storage.hot.WriteBatch``), and
one ``COMMIT`` makes them all durable; only then is each answered and its access log line written. One that
fails is undone alone and answered with its own problem; a ``COMMIT`` that fails is the problem of every request
in the batch, and none of them was written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import queue
import threading
import time
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
    from indsats.storage.database import Database

log = logging.getLogger("indsats.server")
VIA_API = "api"  # the access log's door for a read by a bearer token (the web view's /api says the same)
Fields = dict[str, Any]  # an access log line's


def build_app(ctx: Context, settings: Settings) -> Starlette:
    """The application over one context, built once: plans, machines, the calendar and the database engine
    stay warm between requests."""
    from indsats.usecases.table import USE_CASES

    writes = Writes(ctx.db) if ctx.db.is_sqlite else None

    def endpoint(name: str) -> Any:
        one_by_one = writes is not None and not USE_CASES[name].reads
        batches = USE_CASES[name].batches

        async def handle(request: Request) -> Response:
            extensions = request.scope.get("extensions") or {}
            peer, bearer = extensions.get(EXTENSION), extensions.get(LOGIN_EXTENSION)
            body = await request.body()
            lines = STREAM_MEDIA_TYPE in request.headers.get("accept", "")  # the client takes a stream
            call = _Request(peer, bearer, body, name, ctx, settings, lines)
            # The engine's database calls block: they run off the event loop (see the module's text).
            if one_by_one:
                assert writes is not None
                return await writes.run(call, batches=batches)
            return await run_in_threadpool(_handle, call)

        return handle

    routes = [Route(f"/v1/{name}", endpoint(name), methods=["POST"], name=name) for name in USE_CASES]
    return Starlette(routes=routes, exception_handlers={404: _no_route, 405: _no_route})


@dataclasses.dataclass(frozen=True)
class _Request:
    """A request for a use case, as it came."""

    peer: Peer | None
    bearer: str | None
    body: bytes
    name: str
    ctx: Context
    settings: Settings
    lines: bool = False  # the client takes a stream


@dataclasses.dataclass(frozen=True)
class _Job:
    """A request waiting for the write thread, and where its answer goes."""

    request: _Request
    batches: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Response]


class Writes:
    """One thread for the use cases that write (SQLite): they run in the order they came, one at a time; those
    marked ``batches`` that wait together share one commit (see the module's text)."""

    MOST = 32  # requests in one batch at most: the first one's answer waits for the last one's work

    def __init__(self, db: Database) -> None:
        self._db = db
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, request: _Request, *, batches: bool = False) -> Response:
        loop = asyncio.get_running_loop()
        job = _Job(request, batches and self._db.path is not None, loop, loop.create_future())
        if self._thread is None:  # made in the event loop's thread, on the first request
            self._thread = threading.Thread(target=self._work, name="indsats-writes", daemon=True)
            self._thread.start()
        self._jobs.put(job)
        return await job.future

    def _work(self) -> None:
        ahead: _Job | None = None  # taken from the queue while gathering a batch, and not of it
        while True:
            first, ahead = ahead or self._jobs.get(), None
            jobs = [first]
            while first.batches and len(jobs) < self.MOST:  # the batchable requests waiting now, in order
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not more.batches:
                    ahead = more
                    break
                jobs.append(more)
            answers = [_answer(first.request)] if len(jobs) == 1 else self._batch(jobs)
            for job, (response, fields) in zip(jobs, answers, strict=True):
                _log_request(fields)
                job.loop.call_soon_threadsafe(_resolve, job.future, response)

    def _batch(self, jobs: list[_Job]) -> list[tuple[Response, Fields]]:
        started = time.perf_counter()
        try:
            with self._db.write_batch():
                answers = [_answer(job.request) for job in jobs]
            log.debug("group commit", extra={"fields": {"requests": len(jobs),
                                                        "ms": round((time.perf_counter() - started) * 1000)}})
            return answers
        except Exception as exc:  # beginning or committing failed: nothing of the batch was written
            return [_problem(job.request, exc, _caller_or_unknown(job.request), started) for job in jobs]


def _resolve(future: asyncio.Future[Response], response: Response) -> None:
    if not future.done():  # cancelled: the client went away
        future.set_result(response)


def _caller(request: _Request) -> str:
    """Who asks: the socket's peer's login (the kernel's word), else a verified bearer token's; ``NotAllowed``
    for neither."""
    if request.peer is not None:
        return login_of(request.peer.uid)
    if isinstance(request.bearer, str) and request.bearer:
        return request.bearer
    raise NotAllowed(_("the server answers only on its unix socket, where the kernel names the caller, "
                       "or over --listen to a bearer token"))


def _caller_or_unknown(request: _Request) -> str:
    """``_caller`` for the access log: "?" when there is none."""
    try:
        return _caller(request)
    except NotAllowed:
        return "?"


def _handle(request: _Request) -> Response:
    """``_answer``, and its access log line."""
    response, fields = _answer(request)
    _log_request(fields)
    return response


def _log_request(fields: Fields) -> None:
    # The access log: the kernel-verified caller, the use case and the outcome; never arguments (they
    # may carry personal data).
    log.info("request", extra={"fields": fields})


def _answer(request: _Request) -> tuple[Response, Fields]:
    """Run the use case as the caller: the socket's peer (the kernel's word) or else a bearer token's login. The
    response, and the fields of its access log line."""
    from indsats import wire
    from indsats.adapters.files import CapturedFiles
    from indsats.usecases import Call, use_case

    started = time.perf_counter()
    peer, name, login = request.peer, request.name, "?"
    try:
        login = _caller(request)
        try:
            args = wire.decode(json.loads(request.body or b"{}").get("args", {}))
        except (ValueError, AttributeError):
            raise Invalid(_("the request is not JSON of the form {form}").format(form='{"args": {...}}')) from None
        if not isinstance(args, dict):
            raise Invalid(_("the request's args must be an object"))
        if use_case(name).direct_only:
            raise NotAllowed(_("'{name}' runs directly on the database, as the server's service user").format(name=name))
        if peer is None:
            args = _via_api(name, args)
        files = CapturedFiles()
        call = Call(ctx=dataclasses.replace(request.ctx, files=files), actor=login, settings=request.settings,
                    served=True)
        streams = use_case(name).streams
        if streams and request.lines:
            from starlette.responses import StreamingResponse

            from indsats.server.stream import Producer

            producer = Producer(lambda: _run(name, call, args))
            producer.start()
            producer.first()  # an error before the first item is a problem document, as any other
            return StreamingResponse(producer.body(), media_type=STREAM_MEDIA_TYPE), _fields(request, login, 200,
                                                                                             started)
        value = _run(name, call, args)
        if streams:
            value = list(value)  # a caller that did not ask for lines gets the one value, as always
        return JSONResponse({"value": wire.encode(value), "files": files.files}), _fields(request, login, 200, started)
    except Exception as exc:
        return _problem(request, exc, login, started)


def _problem(request: _Request, exc: BaseException, login: str, started: float) -> tuple[Response, Fields]:
    if not isinstance(exc, IndsatsError):
        log.error("use case failed unexpectedly", exc_info=exc, extra={"fields": {
            "use_case": request.name, "uid": None if request.peer is None else request.peer.uid,
            "error": type(exc).__name__}})
    problem = problem_of(exc)
    status = problem["status"]
    return (JSONResponse(problem, status_code=status, media_type=MEDIA_TYPE),
            _fields(request, login, status, started))


def _fields(request: _Request, login: str, status: int, started: float) -> Fields:
    return {"uid": None if request.peer is None else request.peer.uid, "login": login, "use_case": request.name,
            "status": status, "ms": round((time.perf_counter() - started) * 1000)}


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
