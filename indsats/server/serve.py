"""Starting ``indsats server``: refuse files others can read, bind the socket (0666, its directory 0755),
run uvicorn with the peer-credentials protocol and, unless told not to, the reminder worker.

Whoever can read the database file or the key can do anything; so the server refuses to start (exit 7) while
the SQLite file, its journal files, the key file, a config file holding a password or (with ``--listen``) the
OIDC client secret and session key files can be read by anyone else.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from indsats.errors import StorageUnavailable
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from indsats.adapters.metrics import Metrics
    from indsats.config import Settings
    from indsats.engine.context import Context

SOCKET_NAME = "indsats.sock"


def default_socket(settings: Settings, runtime_directory: str | None) -> Path:
    """Under systemd's ``RuntimeDirectory=`` (``/run/indsats``) when run as a service, else in the data dir."""
    if runtime_directory:
        return Path(runtime_directory.split(":")[0]) / SOCKET_NAME
    return settings.data_dir / SOCKET_NAME


def check_private(settings: Settings, db: Path | None, *, web: bool = False) -> None:
    """``StorageUnavailable`` naming the first file someone other than this user could read (``db``: the
    SQLite file, if the database is one; ``web``: the web view's secrets too, for ``--listen``)."""
    if db is not None:
        if not db.exists():
            raise StorageUnavailable(_("no database at {db}: run 'indsats init' first, as this user").format(db=db))
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            _require_private(path, _("the database file"))
    if not settings.key:
        _require_private(settings.key_file, _("the key file"))
    if web:  # whoever reads these can log in as the client, or sign a session cookie naming anyone
        for secret, what in ((settings.oidc_client_secret_file, _("the OIDC client secret file")),
                             (settings.session_key_file, _("the session key file"))):
            if secret is not None:
                _require_private(secret, what)
    # A config file holding a secret (a password in a URL) that others may read is refused when the settings
    # are loaded (indsats.config.SecretReadable): exit 2 for every command, exit 7 for the server.


def _require_private(path: Path, what: str) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & 0o077:
        raise StorageUnavailable(
            _("{what} {path} can be read by others (mode {mode}): chmod 600 it; only the server may read it").format(
                what=what, path=path, mode=f"{stat.S_IMODE(mode):04o}")
        )


def bind_socket(path: Path) -> socket.socket:
    """A listening-ready unix socket at ``path``, mode 0666 (anyone may connect: the kernel names them), in
    a directory of mode 0755. A stale socket from a server that died is replaced; a live one is not."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o755)
    info = parent.stat()
    if info.st_uid == os.geteuid() and not info.st_mode & stat.S_ISVTX:  # never chmod a shared /tmp
        os.chmod(parent, 0o755)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise StorageUnavailable(_("{path} exists and is not a socket").format(path=path))
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # a stale socket: nobody answers on it
        else:
            raise StorageUnavailable(_("another server answers on {path}").format(path=path))
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise StorageUnavailable(_("cannot listen on {address}: {why}").format(address=path, why=exc.strerror)) from None
    os.chmod(path, 0o666)
    return sock


def run_server(settings: Settings, *, socket_path: Path, worker: bool, every_seconds: float | None = None,
               listen: str | None = None, tls_cert: Path | None = None, tls_key: Path | None = None,
               metrics_port: int | None = None, metrics_address: str = "127.0.0.1") -> None:
    """Serve until SIGTERM/SIGINT; then stop the web view, the worker and the metrics and remove the socket.

    :param worker: run the worker's jobs (the sweep, seal, verify, retention, …) in a background thread.
    :param listen: also serve the web view (OIDC login) and ``/v1`` (bearer tokens) over TCP at ``HOST:PORT``,
        from a thread.
    :param metrics_port: also serve Prometheus metrics on ``metrics_address:metrics_port`` (the worker's
        counters when it runs here; the database's gauges in any case).
    """
    import uvicorn

    from indsats.bootstrap import SystemClock, build_context
    from indsats.server.app import build_app
    from indsats.server.peer import PeerCredentialsProtocol

    ctx = build_context(settings, clock=SystemClock())
    check_private(settings, ctx.db.path, web=listen is not None)
    log = logging.getLogger("indsats.server")
    ctx.catalog.files()  # parse and check every plan now, not on the first request
    with ctx.db.unit_of_work():  # the database answers and is at the expected schema, or exit 7 now
        pass
    sock = bind_socket(socket_path)
    stops: list[Callable[[], None]] = []
    try:
        from indsats.adapters.metrics import serve_metrics

        metrics = serve_metrics(ctx, metrics_port, address=metrics_address)
        if metrics is not None:
            stops.append(metrics.stop)
        if listen is not None:
            from indsats.server.web.serve import start_http

            # /v1 over TCP: the same use cases, as the login of a verified bearer token (BearerIdentity)
            stops.append(start_http(settings, ctx, listen, tls_cert=tls_cert, tls_key=tls_key,
                                    v1=build_app(ctx, settings)))
        if worker:
            stops.append(_start_worker(ctx, settings, every_seconds, metrics))
        # No proxy sits in front of a unix socket (the kernel names the caller): no X-Forwarded-* middleware.
        config = uvicorn.Config(build_app(ctx, settings), http=PeerCredentialsProtocol, lifespan="off",
                                log_config=None, access_log=False, proxy_headers=False, timeout_graceful_shutdown=10)
        log.info("server started", extra={"fields": {
            "socket": str(socket_path), "uid": os.geteuid(), "database": ctx.db.display(), "worker": worker,
            "web": listen, "metrics_port": metrics_port}})
        # uvicorn stops on SIGTERM/SIGINT and then raises the signal again under the handler it found: with
        # these (which do nothing) the server cleans up below and exits 0 instead of dying mid-cleanup.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for stop in reversed(stops):
            stop()
        sock.close()
        socket_path.unlink(missing_ok=True)
        ctx.db.dispose()
        log.info("server stopped", extra={"fields": {"socket": str(socket_path)}})


def _start_worker(ctx: Context, settings: Settings, every_seconds: float | None,
                  metrics: Metrics | None) -> Callable[[], None]:
    """The jobs ``indsats worker`` runs, in a background thread of the server."""
    from indsats.adapters.scheduler import start_jobs
    from indsats.bootstrap import build_notifier
    from indsats.jobs import build_jobs, log_failure, worker_id

    jobs = build_jobs(ctx, settings, build_notifier(settings), every=every_seconds, metrics=metrics,
                      me=worker_id(":server"))
    return start_jobs(jobs, start_at=ctx.clock.now(), on_error=log_failure)
