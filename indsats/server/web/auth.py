"""Who is calling over HTTP: a browser's session (made by the OIDC login) or an integrator's bearer token.

The session lives in Starlette's ``SessionMiddleware`` cookie: signed with the server's session key
(itsdangerous), ``HttpOnly``, ``SameSite=Lax`` (sent on the provider's redirect back to us, never on a
cross-site POST), ``Secure`` when served over HTTPS, and at most ``SESSION_HOURS`` old. A forged or edited
cookie fails the signature and is an empty session. The only POST (logout) also carries the session's CSRF
token and must come from our own origin. The API never reads the cookie: it takes bearer tokens only, so no
other site can make a browser call it with the user's rights.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from indsats.server.peer import LOGIN_EXTENSION
from indsats.server.web.oidc import TokenRefused
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from indsats.server.web.oidc import Provider

SESSION_HOURS = 8
LOGIN_PATH = "/login"


class NotLoggedIn(Exception):
    """The request carries no valid session or bearer token."""


def session_login(request: Request) -> str:
    """The login this browser session was made for; ``NotLoggedIn`` otherwise."""
    login = request.session.get("login")
    if not isinstance(login, str) or not login:
        raise NotLoggedIn
    return login


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def login_redirect(request: Request) -> RedirectResponse:
    """To the login, remembering the page asked for (a local path only: no open redirect)."""
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': wanted})}", status_code=303)


async def bearer_login(request: Request, provider: Provider) -> str:
    """The login named by a valid ``Authorization: Bearer`` token; ``NotLoggedIn`` or ``TokenRefused``."""
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotLoggedIn
    claims = await provider.verify(token.strip())
    return provider.login_of(claims)


class BearerIdentity:
    """ASGI wrapper for an API served over TCP (the socket server's ``/v1``): the caller is the login of a valid
    bearer token from the provider, handed to the app as ``scope["extensions"][LOGIN_EXTENSION]``, in place of
    the socket's peer credentials. Without a valid token, or for a login that is not a registered, active user,
    the answer is 401 before the app sees the request. A client cannot set the extension itself: only this wrapper
    does, and it wraps only the TCP listener's app.
    """

    def __init__(self, app: ASGIApp, provider: Provider, accepts: Callable[[str], Awaitable[bool]]) -> None:
        self.app = app
        self.provider = provider
        self.accepts = accepts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        try:
            login = await bearer_login(Request(scope), self.provider)
        except NotLoggedIn:
            await unauthorized()(scope, receive, send)
            return
        except TokenRefused as exc:
            await unauthorized(str(exc))(scope, receive, send)
            return
        if not await self.accepts(login):
            await unauthorized(_("'{login}' is not a registered, active user").format(login=login))(scope, receive, send)
            return
        scope = {**scope, "extensions": {**scope.get("extensions", {}), LOGIN_EXTENSION: login}}
        await self.app(scope, receive, send)


def unauthorized(reason: str | None = None) -> JSONResponse:
    """401 as RFC 6750 and RFC 9457 say: the challenge, and a problem document carrying exit code 4."""
    challenge = 'Bearer realm="indsats"' + ("" if reason is None else ', error="invalid_token"')
    detail = reason or _("send Authorization: Bearer <token from the municipality's identity provider>")
    return JSONResponse(
        {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail, "exit_code": 4},
        status_code=401, headers={"WWW-Authenticate": challenge}, media_type="application/problem+json",
    )


def auth_routes(provider: Provider, *, public_url: str | None, accept_login: AcceptLogin) -> list[Route]:
    """``/login``, ``/auth/callback`` and ``/logout``; ``accept_login`` decides whether a proven login may in."""

    def callback_url(request: Request) -> str:
        base = public_url.rstrip("/") if public_url else str(request.base_url).rstrip("/")
        return f"{base}/auth/callback"

    async def login(request: Request) -> Response:
        start = await provider.start_login(callback_url(request))
        wanted = request.query_params.get("next", "/")
        request.session.clear()
        request.session["oidc"] = {
            "state": start.state, "nonce": start.nonce, "verifier": start.code_verifier, "next": _local(wanted),
        }
        return RedirectResponse(start.url, status_code=303)

    async def callback(request: Request) -> Response:
        pending = request.session.pop("oidc", None)
        params = request.query_params
        if not isinstance(pending, dict) or not params.get("state") or not secrets.compare_digest(
            str(params.get("state")), str(pending.get("state"))
        ):
            return await accept_login.refused(request, "login_expired", 400)
        if "code" not in params:
            return await accept_login.refused(request, "login_denied", 401)
        try:
            login_name = await provider.finish_login(
                redirect_uri=callback_url(request), code=params["code"], code_verifier=pending["verifier"],
                nonce=pending["nonce"],
            )
        except TokenRefused:
            return await accept_login.refused(request, "login_refused", 401)
        if not await accept_login.accepts(login_name):
            return await accept_login.refused(request, "not_registered", 403)
        request.session.clear()  # a new session for the new login: nothing carried over (session fixation)
        request.session.update({"login": login_name, "csrf": secrets.token_urlsafe(32)})
        return RedirectResponse(pending.get("next") or "/", status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        expected = request.session.get("csrf")
        sent = form.get("csrf")
        origin = request.headers.get("origin")
        own = str(request.base_url).rstrip("/") if public_url is None else public_url.rstrip("/")
        if (
            not isinstance(expected, str) or not isinstance(sent, str) or not secrets.compare_digest(expected, sent)
            or (origin is not None and origin.rstrip("/") != own)
        ):
            return await accept_login.refused(request, "csrf", 403)
        request.session.clear()
        return RedirectResponse("/logged-out", status_code=303)

    return [
        Route(LOGIN_PATH, login, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
    ]


class AcceptLogin:
    """What the login routes ask of the app: may this proven login in, and how to say no (a page)."""

    async def accepts(self, login: str) -> bool:
        raise NotImplementedError

    async def refused(self, request: Request, why: str, status: int) -> Response:
        raise NotImplementedError


def _local(path: str) -> str:
    """Only a path on this site; anything else (``//evil.example``, ``https://…``) becomes the start page."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
