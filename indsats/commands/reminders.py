"""Reminders and the calendar: one sweep (`remind`), deadlines on the calendar (the worker: ``worker.py``)."""

from __future__ import annotations

import os
from typing import Any

import click

from indsats.i18n import N_, _
from indsats.commands.base import Obj, json_option, pass_obj
from indsats.errors import MailUnavailable


def _worker_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


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
    from indsats.commands.render import echo_json, table

    swept = obj.run("remind", at=at, dry_run=dry_run, worker=_worker_id(), metrics=metrics_file is not None)
    result = swept.result
    if swept.metrics is not None and metrics_file is not None:
        from pathlib import Path

        from indsats.adapters.files import replace_text

        replace_text(Path(metrics_file), swept.metrics)  # here, as the caller: node_exporter's textfile
    if as_json:
        echo_json(result)
        _fail_if_unreachable(result, swept.via)
        return
    if result.deliveries:
        table(
            _("Would send") if dry_run else _("Sent"),
            [_("reminder"), _("case"), _("state"), _("kind"), _("level"), _("to"), _("result")],
            [
                [d.reminder_id, d.case_id, d.state_label or d.state, _(KINDS.get(d.kind, d.kind)), d.level, ", ".join(d.recipients),
                 _("ok") if d.ok else _("failed: {error}").format(error=d.error)]
                for d in result.deliveries
            ],
        )
        if result.deliveries_not_listed:
            click.echo(_("… and {n} more.").format(n=result.deliveries_not_listed))
    if dry_run:
        click.echo(_("Dry run: {n} message(s) due; nothing sent.").format(
            n=len(result.deliveries) + result.deliveries_not_listed))
    else:
        click.echo(_("Sweep via {via}: {sent} sent, {coalesced} coalesced, {retrying} to retry, {failed} failed, "
                     "{obsolete} obsolete.").format(via=swept.via, sent=result.sent, coalesced=result.coalesced,
                                                    retrying=result.retrying, failed=result.failed,
                                                    obsolete=result.obsolete))
        _fail_if_unreachable(result, swept.via)


def _fail_if_unreachable(result: Any, via: str) -> None:
    """Exit 7 when something was due and not one message got through because the server could not be reached."""
    attempted = result.sent + result.retrying + result.failed
    if attempted and not result.sent and result.unreachable == attempted:
        raise MailUnavailable(_("the mail server {via} is unreachable: {n} message(s) not delivered, kept for the "
                                "next sweep").format(via=via, n=attempted))


# -- calendar --------------------------------------------------------------------------------------


@click.group()
def calendar() -> None:
    """The working-time calendar deadlines are counted on."""


@calendar.command("due")
@click.argument("start")
@click.argument("duration", nargs=-1, required=True)
@click.option("--statutory", is_flag=True, help="Count only the days the law closes, not the installation's own.")
@json_option
@pass_obj
def calendar_due(obj: Obj, start: str, duration: tuple[str, ...], statutory: bool, as_json: bool) -> None:
    """When a deadline of DURATION from START falls, e.g. 'calendar due 2026-12-22T10:00 6 hverdage'.

    Days, working days (hverdage), weeks and months end at the closing of their last day.
    """
    from indsats.engine.time.clock import to_local
    from indsats.commands.render import local

    found = obj.run("calendar.due", start=start, duration=" ".join(duration), statutory=statutory)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"start": found.start, "duration": found.duration, "statutory": statutory, "due": found.due,
                   "at_closing": found.at_closing})
        return
    from indsats.engine.plans.wording import duration_text

    due = found.due
    day = _(WEEKDAYS[to_local(due).weekday()])
    when = _("{day} at closing").format(day=day) if found.at_closing else day
    rule = duration_text(found.duration) + (" " + _("(statutory)") if statutory else "")
    click.echo(_("{due} ({when}) — {rule} from {start}, Europe/Copenhagen").format(
        due=local(due), when=when, rule=rule, start=local(found.start)))


# A delivery's kind as a person reads it (``--json`` keeps the kind).
KINDS = {"reminder": N_("reminder"), "escalation": N_("escalation")}

# The days of the week (Monday first) and why a day is closed, as a person reads them (``--json`` keeps the ids).
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
            N_("Sunday"))
SHORT_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
CLOSED_BECAUSE = {"public holiday": N_("public holiday"),
                  "closed for deadlines by Danish law": N_("closed for deadlines by Danish law"),
                  "closed by configuration": N_("closed by configuration")}


@calendar.command("closed")
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def calendar_closed(obj: Obj, year: int, as_json: bool) -> None:
    """The closed days of YEAR (public holidays, days closed for deadlines, configured days)."""
    from indsats.commands.render import echo_json, table

    days = obj.run("calendar.closed", year=year)
    if as_json:
        echo_json(days)
        return
    table(_("Closed days {year}").format(year=year), [_("date"), _("weekday"), _("name"), _("why")],
          [[d.date.isoformat(), _(SHORT_WEEKDAYS[d.date.weekday()]), d.name,
            _(CLOSED_BECAUSE.get(d.reason.value, d.reason.value))] for d in days])
