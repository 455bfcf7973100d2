"""Reminders and the calendar: one sweep (`remind`), deadlines on the calendar (the worker: ``worker.py``)."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from indsats.commands.base import Obj, pass_obj
from indsats.errors import MailUnavailable


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
@click.option("--metrics-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write Prometheus metrics for node_exporter's textfile collector to FILE (e.g. …/indsats.prom).")
@pass_obj
def remind(obj: Obj, at: str | None, dry_run: bool, as_json: bool, metrics_file: str | None) -> None:
    """One sweep: deliver every due reminder and escalation (cron-friendly). Exit 7 when the mail server
    could not be reached for any of them (they are kept and retried)."""
    from indsats.bootstrap import build_notifier
    from indsats.engine.reminders.sweep import sweep
    from indsats.commands.render import echo_json, table

    ctx = obj.context(at)
    notifier = build_notifier(obj.settings)
    started = time.perf_counter()
    result = sweep(ctx, notifier, worker=_worker_id(), mail_from=obj.settings.mail_from, dry_run=dry_run,
                   lease=_lease(obj))
    if not dry_run:
        _after_sweep(obj, result, time.perf_counter() - started, metrics_file)
    if as_json:
        echo_json(result)
        _fail_if_unreachable(result, notifier.describe())
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
        _fail_if_unreachable(result, notifier.describe())


def _after_sweep(obj: Obj, result: Any, seconds: float, metrics_file: str | None) -> None:
    """The heartbeat for ``indsats health``, and the node_exporter textfile when asked for."""
    from indsats.jobs import beat

    ctx = obj.context()
    beat(obj.settings, ctx, _worker_id(), result)
    if metrics_file is not None:
        from pathlib import Path

        from indsats.adapters.metrics import Metrics

        metrics = Metrics(ctx)
        metrics.sweep_seconds.observe(seconds)
        metrics.count_sweep(result)
        metrics.write_textfile(Path(metrics_file))


def _fail_if_unreachable(result: Any, via: str) -> None:
    """Exit 7 when something was due and not one message got through because the server could not be reached."""
    attempted = result.sent + result.retrying + result.failed
    if attempted and not result.sent and result.unreachable == attempted:
        raise MailUnavailable(
            f"the mail server {via} is unreachable: {attempted} message(s) not delivered, kept for the next sweep"
        )


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
