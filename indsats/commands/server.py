"""``indsats server``: serve every command to the people on this machine, as their kernel-verified OS login."""

from __future__ import annotations

import os

import click

from indsats.commands.base import Obj, log_options, metrics_options, pass_obj, start_logging


@click.command()
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="The unix socket (default: /run/indsats/indsats.sock under systemd, else in the data dir).")
@click.option("--no-worker", is_flag=True, help="Run no jobs here (leave the sweep and the checks to 'indsats worker').")
@click.option("--every", default=None, type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="How often the worker sweeps (default 60, or [schedule] sweep_every).")
@click.option("--listen", metavar="HOST:PORT", help="Also serve the web view and its JSON API here (OIDC login).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate for --listen (HTTPS).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key for --listen (HTTPS).")
@metrics_options
@log_options
@pass_obj
def server(obj: Obj, socket_path: str | None, no_worker: bool, every: float | None, listen: str | None,
           tls_cert: str | None, tls_key: str | None, metrics_port: int | None, metrics_address: str,
           log_level: str | None, log_format: str | None) -> None:
    """Run the use cases for everyone on this machine over a unix socket; the caller is who the kernel says.

    Run it as its own service user, the only one who can read the database and the key; point everyone's
    INDSATS_SERVER at unix:SOCKET. Refuses to start (exit 7) while those files, a config file holding a password,
    or (with --listen) the OIDC client secret and session key files can be read by others."""
    from pathlib import Path

    from indsats.server.serve import default_socket, run_server

    from indsats.errors import SecretReadable, StorageUnavailable

    os.umask(0o077)
    try:
        settings = obj.settings
    except SecretReadable as exc:  # every other command exits 2 for it; the server refuses to start (exit 7)
        raise StorageUnavailable(exc.message) from None
    start_logging(obj, log_level, log_format)
    path = Path(socket_path) if socket_path else default_socket(settings, os.environ.get("RUNTIME_DIRECTORY"))
    run_server(settings, socket_path=path.absolute(), worker=not no_worker, every_seconds=every, listen=listen,
               tls_cert=Path(tls_cert) if tls_cert else None, tls_key=Path(tls_key) if tls_key else None,
               metrics_port=metrics_port or settings.metrics_port, metrics_address=metrics_address)
