"""The command line: parse, call one service function, render (a table for people, ``--json`` for scripts).

Every user-facing error is an ``IndsatsError``: it is printed as one line on stderr and the command
exits with its code. Anything else is a bug: exit 1, one line, and the traceback only with INDSATS_DEBUG=1.
Heavy libraries are imported inside the commands, so ``indsats --help`` starts fast.
"""

from __future__ import annotations

import os

import click

from indsats.commands.base import IndsatsGroup, Obj, json_option
from indsats.commands.cases import advance, cases, history, note, open_, pause, resume, show, verify
from indsats.commands.data import access, archive, audit, backup, keys, purge, subject
from indsats.commands.db import db
from indsats.commands.plans import plans
from indsats.commands.reminders import calendar, remind
from indsats.commands.worker import worker
from indsats.commands.health import health
from indsats.commands.seals import seal
from indsats.commands.server import server
from indsats.commands.supervision import report, stuck
from indsats.commands.users import init, users
from indsats.commands.work import assign, tasks
from indsats.commands.base import EXIT_CODES_EPILOG



@click.group(cls=IndsatsGroup, epilog=EXIT_CODES_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Database URL or SQLite file (else INDSATS_DATABASE_URL, else the data dir).")
@click.version_option(package_name="indsats")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """indsats: run municipal action plans (indsatsplaner) as cases that remind and escalate."""
    os.umask(0o077)  # every file indsats writes (database, WAL, outbox, exports) is for its owner only
    # indsats uses no pydantic plugins; looking for them scans every installed package (~20 ms a command).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    ctx.obj = Obj(db)


@main.command()
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the demo database in this directory.")
@json_option  # the story then goes to stderr
def demo(keep: str | None, as_json: bool) -> None:
    """The whole story on a temporary SQLite database, narrated."""
    from indsats.demo import run_demo

    outcome = run_demo(keep, narrate_to_stderr=as_json)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(outcome)


# The command groups that live in their own modules.
for _command in (
    init, users, open_, advance, note, pause, resume, show, history, cases, verify, assign, tasks,
    plans, remind, worker, calendar, stuck, report, backup, keys, audit, access, archive, purge, subject, db,
    health, seal, server,
):
    main.add_command(_command)
