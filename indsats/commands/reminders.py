"""Reminders and the calendar: one sweep (`remind`), the worker loop, deadlines on the calendar."""

from __future__ import annotations

import os
from typing import Any

import click

from indsats.commands.base import Obj, pass_obj
from indsats.errors import IndsatsError


def _worker_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _lease(obj: Obj) -> Any:
    from datetime import timedelta

    return timedelta(seconds=obj.settings.lease_seconds)


@click.command()
@click.option("--at", metavar="TIME", help="Run the sweep as of this time (ISO 8601; local time if no offset).")
@click.option("--dry-run", is_flag=True, help="Show what is due; send nothing, change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def remind(obj: Obj, at: str | None, dry_run: bool, as_json: bool) -> None:
    """One sweep: deliver every due reminder and escalation (cron-friendly)."""
    from indsats.bootstrap import build_notifier
    from indsats.engine.reminders.sweep import sweep
    from indsats.commands.render import echo_json, table

    ctx = obj.context(at)
    notifier = build_notifier(obj.settings)
    result = sweep(ctx, notifier, worker=_worker_id(), mail_from=obj.settings.mail_from, dry_run=dry_run,
                   lease=_lease(obj))
    if as_json:
        echo_json(result)
        return
    if result.deliveries:
        table(
            "Would send" if dry_run else "Sent",
            ["reminder", "case", "state", "kind", "level", "to", "result"],
            [
                [d.reminder_id, d.case_id, d.state, d.kind, d.level, ", ".join(d.recipients),
                 "ok" if d.ok else f"failed: {d.error}"]
                for d in result.deliveries
            ],
        )
        if result.deliveries_not_listed:
            click.echo(f"… and {result.deliveries_not_listed} more.")
    if dry_run:
        click.echo(f"Dry run: {len(result.deliveries) + result.deliveries_not_listed} message(s) due; nothing sent.")
    else:
        click.echo(
            f"Sweep via {notifier.describe()}: {result.sent} sent, {result.coalesced} coalesced, "
            f"{result.retrying} to retry, {result.failed} failed, {result.obsolete} obsolete."
        )


@click.command()
@click.option("--every", "every", default=60.0, show_default=True, type=click.FloatRange(min=0.1), metavar="SECONDS")
@pass_obj
def worker(obj: Obj, every: float) -> None:
    """Run the sweep every SECONDS (APScheduler) until SIGTERM/SIGINT."""
    from indsats.bootstrap import build_notifier
    from indsats.engine.reminders.sweep import sweep
    from indsats.adapters.scheduler import run_worker

    ctx = obj.context()
    notifier = build_notifier(obj.settings)
    me = _worker_id()
    click.echo(f"Worker {me}: sweeping every {every:g} s via {notifier.describe()} (Ctrl-C to stop).", err=True)

    def once() -> None:
        result = sweep(ctx, notifier, worker=me, mail_from=obj.settings.mail_from, lease=_lease(obj))
        if result.claimed:
            click.echo(
                f"sweep: {result.sent} sent, {result.coalesced} coalesced, {result.retrying} to retry, "
                f"{result.failed} failed",
                err=True,
            )

    def on_error(exc: BaseException) -> None:
        message = exc.message if isinstance(exc, IndsatsError) else f"unexpected {type(exc).__name__}"
        click.echo(f"sweep failed: {message}; retrying at the next interval", err=True)

    run_worker(once, every_seconds=every, start_at=ctx.clock.now(), on_error=on_error)
    click.echo("Worker stopped.", err=True)


# -- calendar --------------------------------------------------------------------------------------


@click.group()
def calendar() -> None:
    """The working-time calendar deadlines are counted on."""


@calendar.command("due")
@click.argument("start")
@click.argument("duration", nargs=-1, required=True)
@click.option("--statutory", is_flag=True, help="Count only the days the law closes, not the installation's own.")
@pass_obj
def calendar_due(obj: Obj, start: str, duration: tuple[str, ...], statutory: bool) -> None:
    """When a deadline of DURATION from START falls, e.g. 'calendar due 2026-12-22T10:00 6 hverdage'.

    Days, working days (hverdage), weeks and months end at the closing of their last day.
    """
    from indsats.engine.time.clock import parse_time, to_local
    from indsats.engine.time.durations import parse_duration
    from indsats.commands.render import local

    begin = parse_time(start)
    span = parse_duration(" ".join(duration))
    cal = obj.context().calendar
    due = cal.add(begin, span, statutory=statutory)
    closing = " at closing" if (cal.legal if statutory else cal).is_closing(due) else ""
    rule = f"{span}{' (statutory)' if statutory else ''}"
    click.echo(
        f"{local(due)} ({to_local(due).strftime('%A')}{closing}) — {rule} from {local(begin)}, Europe/Copenhagen"
    )


@calendar.command("closed")
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def calendar_closed(obj: Obj, year: int, as_json: bool) -> None:
    """The closed days of YEAR (public holidays, days closed for deadlines, configured days)."""
    from indsats.commands.render import echo_json, table

    cal = obj.context().calendar
    days = cal.closed_days(year)
    if as_json:
        echo_json(days)
        return
    table(f"Closed days {year}", ["date", "weekday", "name", "why"],
          [[d.date.isoformat(), d.date.strftime("%a"), d.name, d.reason.value] for d in days])
