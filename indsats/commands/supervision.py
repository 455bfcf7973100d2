"""The supervisor's commands: what is stuck, and how long each state takes."""

from __future__ import annotations

import itertools
from typing import Any

import click

from indsats.commands.base import Obj, pass_obj
from indsats.i18n import N_, _


STUCK_COLUMNS = [N_("case"), N_("plan"), N_("state"), N_("must act"), N_("role"), N_("deadline"), N_("overdue by"),
                 N_("level"), N_("reminders"), N_("last activity"), N_("failed"), N_("reason")]


DEFAULT_LIMIT = 50


@click.command()
@click.option("--at", metavar="TIME", help="As of this time (ISO 8601; local time if no offset). Default: now.")
@click.option("--plan", "plan_id", help="Only cases under this plan.")
@click.option("--unit", help="Only cases opened in this unit.")
@click.option("--role", help="Only cases where this role must act.")
@click.option("--overdue-by", "overdue_by", metavar="DURATION", help="Only cases overdue by at least this, e.g. '1 working day'.")
@click.option("--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many cases (the most overdue).")
@click.option("--all", "every", is_flag=True, help="Every stuck case, not only the first --limit.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, to stdout.")
@pass_obj
def stuck(obj: Obj, at: str | None, plan_id: str | None, unit: str | None, role: str | None,
          overdue_by: str | None, limit: int, every: bool, as_json: bool, as_csv: bool) -> None:
    """Open cases past their state's deadline, most overdue first, and cases whose reminders failed.

    The first 50 by default; piped, --csv and --json are written case by case as they are read."""
    from indsats.commands.render import csv_out, echo_json_items, stdout_is_terminal, table

    # One more than shown, to tell a person at a terminal that the list goes on.
    wanted = None if every else limit + 1
    found = iter(obj.run("stuck", at=at, plan_id=plan_id, unit=unit, role=role, overdue_by=overdue_by, limit=wanted))
    shown = found if every else itertools.islice(found, limit)
    if as_json:
        echo_json_items(shown)
        return
    rows = (_row(s) for s in shown)
    columns = [_(c) for c in STUCK_COLUMNS]
    if as_csv:
        csv_out(columns, rows)
        return
    if not stdout_is_terminal():
        table(None, columns, rows)
        return
    listed = list(rows)
    more = next(found, None) is not None
    title = (_("Stuck cases (the first {n}; --all for every one)") if more else _("Stuck cases ({n})")).format(
        n=len(listed))
    table(title, columns, listed)


def _row(s: Any) -> list[Any]:
    from indsats.commands.render import local

    return [s.case_id, s.plan_id, s.state_label, ", ".join(f"{p.name} ({p.login})" for p in s.must_act),
            ", ".join(sorted({p.role for p in s.must_act})), local(s.deadline), s.overdue_text or "",
            s.escalation_level, s.reminders_sent, local(s.last_activity_at), s.failed_reminders, _why(s)]


def _why(s: Any) -> str:
    """The reason column: why the case is listed, with the pause's reason and since when, or the case deadline."""
    from indsats.commands.render import local

    # A StuckReason here, its value through the server (a WireEnum has no ``text()``): the reason's message
    # id is its value (``StuckReason.text``), so both read the same.
    reason = _(str(s.reason.value))
    if s.paused_since is not None:
        return _("{reason} since {at}: {why}").format(reason=reason, at=local(s.paused_since), why=s.pause_reason or "")
    if s.case_deadline is not None:
        return f"{reason}: {s.case_deadline}"
    return reason


@click.command()
@click.option("--plan", "plan_id", help="Only this plan.")
@click.option("--since", metavar="DATE", help="From this day (YYYY-MM-DD, local), included.")
@click.option("--until", metavar="DATE", help="To this day (YYYY-MM-DD, local), included. Default: now.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--output", "-o", "output", metavar="FILE|-",
              help="Also write one self-contained HTML page (chart and stuck list) to FILE (- is stdout, alone).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE", hidden=True,
              help="The older spelling of -o FILE.")
@pass_obj
def report(obj: Obj, plan_id: str | None, since: str | None, until: str | None, as_json: bool,
           output: str | None, html_file: str | None) -> None:
    """Per state: cases passed, median and 90th-percentile working time in it, share on time, breaches."""
    from indsats.commands.render import echo_json, table

    if output is not None and html_file is not None:
        raise click.UsageError(_("give -o/--output FILE (or its older spelling --html FILE), not both"))
    html_file = output if output is not None else html_file

    if html_file == "-" and as_json:
        raise click.UsageError(_("-o - writes the page to stdout: leave out --json (or give -o FILE)"))
    if html_file is not None:
        from indsats.commands.render import folder_of

        folder_of(html_file)  # a missing folder is refused before the report is computed
    result = obj.run("report", plan_id=plan_id, since=since, until=until)
    if html_file is not None:
        from indsats.commands.render import write_output
        from indsats.commands.report_html import report_page

        page = report_page(result, list(obj.run("stuck", plan_id=plan_id, limit=DEFAULT_LIMIT)))
        if not write_output(page, html_file):
            return  # the page went to stdout: nothing else goes there
    if as_json:
        echo_json(result)
        return
    for plan in result.plans:
        table(
            f"{plan.title} ({plan.plan_id})",
            [_("state"), _("passed"), _("median"), _("p90"), _("on time"), _("breaches"), _("escalations"),
             _("open now"), _("paused")],
            [[s.label, s.passed, s.median_text or "", s.p90_text or "",
              "" if s.on_time_share is None else f"{s.on_time_share:.0%}", s.breaches, s.escalations, s.open_now,
              "" if s.paused_text is None else f"{s.paused_text} ({s.paused_visits})"]
             for s in plan.states],
        )
        if plan.case_deadlines:
            table(
                _("{title}: case deadlines").format(title=plan.title),
                [_("case deadline"), _("started"), _("met"), _("on time"), _("breaches"), _("running")],
                [[d.label, d.started, d.met, d.on_time, d.breaches, d.running] for d in plan.case_deadlines],
            )
    if html_file is not None:
        click.echo(_("Wrote {file}").format(file=html_file))
