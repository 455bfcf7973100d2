"""``indsats health``: is this installation able to do its work right now? Exit 0 healthy, 7 otherwise.

Checks, each with a one-line detail: the database answers and is at the expected schema revision; the
encryption key is there and opens the data; the SMTP server answers (or the outbox can be written);
the last sweep (from the heartbeat the worker and ``remind`` leave) and the oldest due reminder, which
must not have waited longer than ``--max-due-age`` (a due reminder that old means no sweep is running).
The checks run where the data is (``indsats.usecases.adapted.health``): through a server, the server's.
"""

from __future__ import annotations

import sys

import click

from indsats.i18n import N_, _
from indsats.commands.base import Obj, pass_obj


# The checks' names as a person reads them (``--json`` keeps the names).
CHECKS = {"database": N_("database"), "key": N_("key"), "smtp": N_("SMTP"), "last_sweep": N_("last sweep"),
          "oldest_due": N_("oldest due")}


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--max-due-age", default=900, show_default=True, type=click.IntRange(min=1), metavar="SECONDS",
              help="Unhealthy when a due reminder has waited longer than this.")
@pass_obj
def health(obj: Obj, as_json: bool, max_due_age: int) -> None:
    """Check the database, schema, key, SMTP, last sweep and oldest due reminder; exit 0 healthy, 7 otherwise."""
    from indsats.commands.render import echo_json

    obj.on_the_database()  # the service's own check (a container's HEALTHCHECK): on its named database, else via the server
    found = obj.run("health", max_due_age=max_due_age)
    if as_json:
        echo_json({"healthy": found.healthy, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in found.checks},
                   "last_sweep": found.last_sweep, "oldest_due": found.oldest_due})
    else:
        marks = {True: _("ok"), False: _("FAIL")}
        names = {c.name: _(CHECKS.get(c.name, c.name)) for c in found.checks}
        mark_width, name_width = max(map(len, marks.values())), max(map(len, names.values()), default=0)
        for c in found.checks:
            click.echo(f"{marks[c.ok]:<{mark_width}} {names[c.name]:<{name_width}}  {c.detail}")
        click.echo(_("healthy") if found.healthy else _("unhealthy"))
    if not found.healthy:
        sys.exit(7)
