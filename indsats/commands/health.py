"""``indsats health``: is this installation able to do its work right now? Exit 0 healthy, 7 otherwise.

Checks, each with a one-line detail: the database answers and is at the expected schema revision; the
encryption key is there and opens the data; the SMTP server answers (or the outbox can be written);
the last sweep (from the heartbeat the worker and ``remind`` leave) and the oldest due reminder, which
must not have waited longer than ``--max-due-age`` (a due reminder that old means no sweep is running).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

import click

from indsats.commands.base import Obj, pass_obj
from indsats.errors import IndsatsError


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--max-due-age", default=900, show_default=True, type=click.IntRange(min=1), metavar="SECONDS",
              help="Unhealthy when a due reminder has waited longer than this.")
@pass_obj
def health(obj: Obj, as_json: bool, max_due_age: int) -> None:
    """Check the database, schema, key, SMTP, last sweep and oldest due reminder; exit 0 healthy, 7 otherwise."""
    from indsats.adapters.heartbeat import read_heartbeat
    from indsats.bootstrap import build_notifier, probe_mail
    from indsats.commands.render import echo_json, local
    from indsats.engine.privacy.keys import check_key
    from indsats.engine.reminders.backlog import due_backlog
    from indsats.storage.schema import schema_status

    settings = obj.settings
    ctx = obj.context()
    checks: list[Check] = []
    oldest: datetime | None = None
    try:
        status = schema_status(ctx.db)
        checks.append(Check(name="database", ok=status.ok, detail=(
            f"{status.database}: schema {status.current or '-'} (expected {status.expected}, {status.state.value})")))
    except IndsatsError as exc:
        status = None
        checks.append(Check(name="database", ok=False, detail=exc.message))
    if status is not None and status.ok:
        try:
            found = check_key(ctx)
            checks.append(Check(name="key", ok=True, detail=found))
        except IndsatsError as exc:
            checks.append(Check(name="key", ok=False, detail=exc.message))
    else:
        checks.append(Check(name="key", ok=False, detail="not checked: the database is not usable"))
    try:
        problem = probe_mail(settings)
        checks.append(Check(name="smtp", ok=problem is None, detail=problem or build_notifier(settings).describe()))
    except IndsatsError as exc:
        checks.append(Check(name="smtp", ok=False, detail=exc.message))
    beat = read_heartbeat(settings.data_dir)
    checks.append(Check(name="last_sweep", ok=True, detail=(
        f"{local(beat.at)} by {beat.worker}: {beat.summary}" if beat else "no sweep recorded here yet")))
    if status is not None and status.ok:
        try:
            backlog = due_backlog(ctx)
            oldest = backlog.oldest_due_at
            ok = backlog.oldest_age_seconds <= max_due_age
            detail = (f"{backlog.due} due; the oldest since {local(oldest)} ({backlog.oldest_age_seconds:.0f} s)"
                      if oldest else "none due")
            checks.append(Check(name="oldest_due", ok=ok, detail=detail))
        except IndsatsError as exc:
            checks.append(Check(name="oldest_due", ok=False, detail=exc.message))
    else:
        checks.append(Check(name="oldest_due", ok=False, detail="not checked: the database is not usable"))
    healthy = all(c.ok for c in checks)
    if as_json:
        echo_json({"healthy": healthy, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
                   "last_sweep": beat.at if beat else None, "oldest_due": oldest})
    else:
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<11} {c.detail}")
        click.echo("healthy" if healthy else "unhealthy")
    if not healthy:
        sys.exit(7)
