"""The ``db`` group: the database's schema revision, shown without writing anything."""

from __future__ import annotations

import sys

import click

from indsats.i18n import _
from indsats.commands.base import Obj, pass_obj


@click.group()
def db() -> None:
    """The database itself: its schema revision."""


@db.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def db_status(obj: Obj, as_json: bool) -> None:
    """Show the database's schema revision and the one this indsats expects; write nothing.
    Exit 0 when they match, 7 otherwise."""
    from indsats.commands.render import echo_json

    obj.on_the_database()  # the service's own check before it starts: on its named database, else through the server
    status = obj.run("db.status")
    if as_json:
        echo_json({"database": status.database, "current": status.current, "expected": status.expected,
                   "state": status.state.value, "ok": status.ok})
    else:
        advice = {
            "current": _("up to date"),
            "older": _("older: run 'indsats init' to upgrade"),
            "newer": _("written by a newer indsats: upgrade indsats"),
            "uninitialised": _("not initialised: run 'indsats init'"),
            "missing": _("no database file: run 'indsats init'"),
        }[status.state.value]
        click.echo(_("Database: {database}").format(database=status.database))
        click.echo(_("Schema revision: {current} (expected {expected}): {advice}").format(
            current=status.current or "-", expected=status.expected, advice=advice))
    if not status.ok:
        sys.exit(7)
