"""``python -m indsats.server.web --listen HOST:PORT``: the web view alone (what ``indsats server --listen``
serves beside the socket)."""

from __future__ import annotations

import sys

import click

from indsats.errors import IndsatsError
from indsats.i18n import _


@click.command()
@click.option("--db", metavar="URL", help="Database URL or SQLite file (else INDSATS_DATABASE_URL).")
@click.option("--listen", required=True, metavar="HOST:PORT", help="Serve the web view and JSON API here.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate (HTTPS).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key (HTTPS).")
def main(db: str | None, listen: str, tls_cert: str | None, tls_key: str | None) -> None:
    """Serve the read-only web view and the JSON API over HTTP(S), behind the OIDC login."""
    from pathlib import Path

    from indsats.bootstrap import build_context
    from indsats.config import load_settings
    from indsats.server.app import build_app
    from indsats.server.web.serve import serve_http

    try:
        settings = load_settings(db=db)
        ctx = build_context(settings)
        serve_http(settings, ctx, listen, tls_cert=Path(tls_cert) if tls_cert else None,
                   tls_key=Path(tls_key) if tls_key else None, v1=build_app(ctx, settings))
    except IndsatsError as exc:
        click.echo(_("Error: {message}").format(message=exc.message), err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
