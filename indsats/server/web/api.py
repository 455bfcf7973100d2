"""The JSON API over HTTP(S), for integrators (an ESDH, a dashboard): ``Authorization: Bearer`` tokens from
the municipality's identity provider, never the browser's cookie. The same use cases and JSON keys as the
CLI's ``--json``; errors are RFC 9457 problem documents carrying the CLI's exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from indsats.engine.cases.views import case_history, show_case
from indsats.engine.cases.tasks import my_tasks
from indsats.engine.org.users import whoami
from indsats.engine.supervision import step_report, stuck_cases
from indsats.errors import IndsatsError
from indsats.server.app import VIA_API
from indsats.server.problems import MEDIA_TYPE, problem_of
from indsats.server.web.auth import NotLoggedIn, bearer_login, unauthorized
from indsats.server.web.oidc import ProviderUnavailable, TokenRefused
from indsats.wire import plain
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from indsats.engine.context import Context
    from indsats.server.web.oidc import Provider

VIA = VIA_API  # the /v1 API over TCP logs its reads through the same door


def problem(exc: IndsatsError) -> JSONResponse:
    """The same problem document as the socket server's (``indsats.server.problems``)."""
    document = problem_of(exc)
    return JSONResponse(document, status_code=document["status"], media_type=MEDIA_TYPE)


def api_app(context: Callable[[], Context], provider: Provider) -> Starlette:
    """Mounted at ``/api``."""

    async def actor(request: Request) -> str:
        login = await bearer_login(request, provider)
        await run_in_threadpool(whoami, context(), actor=login)  # registered and active, or NotAllowed
        return login

    async def me(request: Request) -> JSONResponse:
        login = await bearer_login(request, provider)
        return JSONResponse(plain(await run_in_threadpool(whoami, context(), actor=login)))

    async def tasks(request: Request) -> JSONResponse:
        return JSONResponse(plain(await run_in_threadpool(my_tasks, context(), actor=await actor(request))))

    async def stuck(request: Request) -> JSONResponse:
        from indsats.server.web.pages import StuckFilters

        login = await actor(request)
        arguments = StuckFilters.from_query(request).arguments()
        return JSONResponse(plain(await run_in_threadpool(stuck_cases, context(), actor=login, **arguments)))

    async def report(request: Request) -> JSONResponse:
        from indsats.server.web.pages import parse_day

        login = await actor(request)
        q = request.query_params
        result = await run_in_threadpool(
            step_report, context(), actor=login, plan_id=q.get("plan") or None,
            since=parse_day(q.get("since"), "since"), until=parse_day(q.get("until"), "until"),
        )
        return JSONResponse(plain(result))

    async def case(request: Request) -> JSONResponse:
        login = await actor(request)
        view = await run_in_threadpool(
            show_case, context(), actor=login, case_id=request.path_params["case_id"], via=VIA
        )
        return JSONResponse(plain(view))

    async def history(request: Request) -> JSONResponse:
        login = await actor(request)
        events = await run_in_threadpool(
            case_history, context(), actor=login, case_id=request.path_params["case_id"], via=VIA
        )
        return JSONResponse(plain(events))

    async def not_logged_in(request: Request, exc: Exception) -> JSONResponse:
        return unauthorized()

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return unauthorized(str(exc))

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"type": "about:blank", "title": "Identity provider unavailable", "status": 503,
             "detail": _("the identity provider did not answer; try again"), "exit_code": 7},
            status_code=503, media_type="application/problem+json",
        )

    async def failed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IndsatsError)
        return problem(exc)

    return Starlette(
        routes=[
            Route("/whoami", me), Route("/tasks", tasks), Route("/stuck", stuck), Route("/report", report),
            Route("/cases/{case_id}", case), Route("/cases/{case_id}/history", history),
        ],
        exception_handlers={NotLoggedIn: not_logged_in, TokenRefused: refused, ProviderUnavailable: unavailable,
                            IndsatsError: failed},
    )
