"""The web app: pages (session cookie from the OIDC login) under ``/``, the JSON API (bearer tokens) under
``/api``, the stylesheet under ``/static``; security headers on every response.

    app = create_app(lambda: ctx, OidcConfig(issuer=…, client_id=…), session_key=key)

``context`` is called per request (the server may hand out a cached ``Context``); nothing here touches the
database except through the engine's use cases.
"""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from indsats.engine.org.users import whoami
from indsats.errors import IndsatsError, NotAllowed
from indsats.i18n import N_, _, language
from indsats.server.problems import status_of
from indsats.server.web.api import api_app
from indsats.server.web.auth import SESSION_HOURS, AcceptLogin, BearerIdentity, NotLoggedIn, auth_routes, csrf_token
from indsats.server.web.auth import login_redirect
from indsats.server.web.auth import session_login
from indsats.server.web.oidc import Provider, ProviderUnavailable
from indsats.server.web.pages import page_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import httpx
    import jinja2
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from indsats.engine.context import Context
    from indsats.engine.org.users import User
    from indsats.server.web.oidc import OidcConfig

HERE = Path(__file__).parent
SESSION_COOKIE = "indsats_session"
# Pages show personal data: never cached, never framed, nothing loaded from elsewhere.
# (form-action also names the provider: a form sent after the session ended is redirected to its login.)
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {provider}; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
]
# Messages for refused logins and errors: (heading, text), translated when shown.
MESSAGES = {
    "login_expired": (N_("Login expired"), N_("The login attempt could not be recognised or has expired. Try again.")),
    "login_denied": (N_("Login refused"), N_("The identity provider did not complete the login.")),
    "login_refused": (N_("Login refused"), N_("The answer from the identity provider could not be accepted.")),
    "not_registered": (N_("No access"), N_("You are logged in at the municipality, but you are not registered as an "
                                           "active user of indsats. Contact an administrator.")),
    "csrf": (N_("The request was refused"), N_("The form did not come from this page. Reload the page and try again.")),
    3: (N_("Not found"), N_("The page or the case does not exist, or you do not have access to it.")),
    4: (N_("No access"), N_("Your role does not give access to this.")),
    5: (N_("Invalid request"), N_("The request could not be used.")),
    6: (N_("Conflict"), N_("The case was changed at the same time. Try again.")),
    7: (N_("The database is not available"), N_("Try again in a moment.")),
    8: (N_("Integrity failure"), N_("The event log is broken; contact an administrator.")),
}
ERROR = (N_("Error"), N_("An error occurred."))


class SecurityHeaders:
    """Adds the content security policy and ``SECURITY_HEADERS`` to every HTTP response."""

    def __init__(self, app: ASGIApp, provider_origin: str) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", CSP.format(provider=provider_origin).encode()),
                        *SECURITY_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    context: Callable[[], Context],
    oidc: OidcConfig,
    *,
    session_key: str,
    public_url: str | None = None,
    https: bool = False,
    http: httpx.AsyncClient | None = None,
    v1: ASGIApp | None = None,
) -> ASGIApp:
    """The whole web app.

    :param session_key: signs the session cookie; servers behind one address must share it.
    :param public_url: the address people use (behind a reverse proxy); default: as the request arrived.
    :param https: the cookie is ``Secure`` (served over TLS here or by the proxy).
    :param http: the client for the provider (tests hand their own); default a new ``httpx.AsyncClient``.
    :param v1: the socket server's API app (``/v1/NAME``), served here to bearer tokens (``BearerIdentity``).
    """
    import httpx as httpx_module

    client = http or httpx_module.AsyncClient(timeout=10.0)
    provider = Provider(oidc, client)
    templates = Jinja2Templates(env=template_environment())

    def render(request: Request, name: str, values: dict[str, Any], status: int = 200) -> Response:
        values = {"me": None, **values, "csrf": csrf_token(request) if "login" in request.session else "",
                  "lang": language()}
        return templates.TemplateResponse(request, name, values, status_code=status)

    def message(request: Request, key: str | int, status: int, me: User | None = None) -> Response:
        heading, text = MESSAGES.get(key, ERROR)
        link = None if me is not None else {"href": "/login", "text": _("Log in")}
        return render(request, "message.html", {"me": me, "heading": _(heading), "text": _(text), "link": link},
                      status)

    async def login_of(request: Request) -> tuple[str, User]:
        login = session_login(request)
        try:
            me = await run_in_threadpool(whoami, context(), actor=login)
        except NotAllowed:  # deactivated (or removed) since the login: the session ends now
            request.session.clear()
            raise NotLoggedIn from None
        request.state.me = me
        return login, me

    class Accept(AcceptLogin):
        async def accepts(self, login: str) -> bool:
            try:
                await run_in_threadpool(whoami, context(), actor=login)
            except NotAllowed:
                return False
            return True

        async def refused(self, request: Request, why: str, status: int) -> Response:
            return message(request, why, status)

    async def not_logged_in(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    async def failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IndsatsError)
        me = getattr(request.state, "me", None)
        response = message(request, exc.exit_code, status_of(exc.exit_code), me)
        return response

    async def unavailable(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", {
            "heading": _("Login is not available"),
            "text": _("The municipality's login is not answering right now. Try again in a moment."),
        }, 503)

    async def not_found(request: Request, exc: Exception) -> Response:
        return message(request, 3, 404, getattr(request.state, "me", None))

    async def logged_out(request: Request) -> Response:
        return render(request, "message.html", {
            "heading": _("You are logged out"), "text": _("Your session in indsats has ended."),
            "link": {"href": "/login", "text": _("Log in again")},
        })

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if http is None:
            await client.aclose()

    routes = [
        *auth_routes(provider, public_url=public_url, accept_login=Accept()),
        Route("/logged-out", logged_out),
        *page_routes(context, login_of, render),
        Mount("/api", app=api_app(context, provider)),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, provider_origin=_origin(oidc.issuer)),
            Middleware(SessionMiddleware, secret_key=session_key, session_cookie=SESSION_COOKIE,
                       max_age=SESSION_HOURS * 3600, same_site="lax", https_only=https),
        ],
        exception_handlers={NotLoggedIn: not_logged_in, IndsatsError: failed, ProviderUnavailable: unavailable,
                            404: not_found},
        lifespan=lifespan,
    )
    if v1 is None:
        return app
    return _PathDispatch(app, "/v1/", BearerIdentity(v1, provider, Accept().accepts))


class _PathDispatch:
    """Requests under ``prefix`` go to ``other`` (paths unchanged), the rest (and the lifespan) to ``app``."""

    def __init__(self, app: ASGIApp, prefix: str, other: ASGIApp) -> None:
        self.app, self.prefix, self.other = app, prefix, other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.prefix):
            await self.other(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def template_environment() -> jinja2.Environment:
    """The pages' templates, autoescaped, with Jinja2's i18n extension over indsats' own catalogs: ``_()`` in
    a template is ``indsats.i18n._``, so a page speaks the installation's language (``lang`` says which), as
    the command line does. Babel's Jinja2 extractor finds the messages (``[tool.babel]`` in pyproject.toml)."""
    import jinja2

    from indsats import i18n

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=jinja2.select_autoescape(), extensions=["jinja2.ext.i18n"])
    # The callables, not one catalog: each page is rendered in the language of the moment (i18n.use).
    env.install_gettext_callables(gettext=i18n._, ngettext=i18n.ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.filters["local"] = _local
    return env


def new_session_key() -> str:
    return secrets.token_urlsafe(32)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _local(value: Any) -> str:
    from indsats.engine.time.clock import to_local

    return "" if value is None else to_local(value).strftime("%Y-%m-%d %H:%M")
