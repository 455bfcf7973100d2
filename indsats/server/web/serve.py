"""Serving the web view over TCP: ``indsats server --listen HOST:PORT [--tls-cert FILE --tls-key FILE]``.

Without TLS it is meant for a reverse proxy in front (which terminates HTTPS, sets ``X-Forwarded-Proto``
and ``public_url`` names the address people use) or for a test on the loopback address. Proxy headers are
believed only from the addresses in ``FORWARDED_ALLOW_IPS`` (uvicorn's default: 127.0.0.1).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from indsats.errors import Invalid, StorageUnavailable
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import uvicorn
    from starlette.types import ASGIApp

    from indsats.config import Settings
    from indsats.engine.context import Context


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6) → (host, port); ``Invalid`` otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid(_("bad --listen '{text}': use HOST:PORT, e.g. 127.0.0.1:8080").format(text=text))
    return host, int(port)


def web_app(settings: Settings, context: Context, *, https: bool, v1: ASGIApp | None = None) -> ASGIApp:
    """The web app for these settings (and ``v1``, the socket server's API, for bearer tokens); ``Invalid``
    when the OIDC provider is not configured."""
    from indsats.server.web.app import create_app, new_session_key
    from indsats.server.web.oidc import OidcConfig

    oidc = OidcConfig.from_settings(settings)
    if oidc is None:
        raise Invalid(_("--listen needs the identity provider: set oidc_issuer and oidc_client_id in the config"))
    public = settings.public_url
    return create_app(
        lambda: context, oidc, session_key=_session_key(settings.session_key_file) or new_session_key(),
        public_url=public, https=https or bool(public and public.startswith("https://")), v1=v1,
    )


def http_server(
    settings: Settings, context: Context, listen: str, *, tls_cert: Path | None = None, tls_key: Path | None = None,
    v1: ASGIApp | None = None,
) -> tuple[uvicorn.Server, socket.socket]:
    """A uvicorn server for the web view and its socket, already bound (a taken port fails here, at start)."""
    import uvicorn

    host, port = parse_listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise Invalid(_("--tls-cert and --tls-key go together"))
    app = web_app(settings, context, https=tls_cert is not None, v1=v1)
    config = uvicorn.Config(
        app, ssl_certfile=None if tls_cert is None else str(tls_cert),
        ssl_keyfile=None if tls_key is None else str(tls_key), proxy_headers=True, log_config=None,
        access_log=False,  # the request line carries case ids; the event log is the access log
        timeout_graceful_shutdown=10,
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StorageUnavailable(_("cannot listen on {address}: {why}").format(address=listen, why=exc.strerror)) from None
    return uvicorn.Server(config), sock


def serve_http(
    settings: Settings, context: Context, listen: str, *, tls_cert: Path | None = None, tls_key: Path | None = None,
    v1: ASGIApp | None = None,
) -> None:
    """Run the web view in this thread until stopped (SIGINT/SIGTERM)."""
    server, sock = http_server(settings, context, listen, tls_cert=tls_cert, tls_key=tls_key, v1=v1)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def start_http(
    settings: Settings, context: Context, listen: str, *, tls_cert: Path | None = None, tls_key: Path | None = None,
    v1: ASGIApp | None = None,
) -> Callable[[], None]:
    """Serve the web view from a thread beside the unix-socket server; returns ``stop()``.

    uvicorn listens for signals only in the main thread, so the socket server there keeps them; ``stop``
    asks this one to finish its requests and waits for it.
    """
    import threading

    server, sock = http_server(settings, context, listen, tls_cert=tls_cert, tls_key=tls_key, v1=v1)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="indsats-web", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

    return stop


def _session_key(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise Invalid(_("{path}: cannot read the session key: {why}").format(path=path, why=exc.strerror)) from None
    if len(key) < 32:
        raise Invalid(_("{path}: the session key must be at least 32 characters").format(path=path))
    return key
