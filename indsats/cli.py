"""The command line: parse, call one service function, render (a table for people, ``--json`` for scripts).

Every user-facing error is an ``IndsatsError``: it is printed as one line on stderr and the command
exits with its code. Anything else is a bug: exit 1, one line, and the traceback only with INDSATS_DEBUG=1.
Heavy libraries are imported inside the commands, so ``indsats --help`` starts fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from indsats.errors import EXIT_CODES, IndsatsError, Invalid

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.context import Context

EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in sorted(EXIT_CODES.items()))


class Obj:
    """What the group hands its commands: the --db option, and settings/context built on first use."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._settings: Settings | None = None
        self._ctx: Context | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from indsats.config import load_settings

            self._settings = load_settings(db=self.db)
        return self._settings

    def context(self, at: str | None = None) -> Context:
        from indsats.bootstrap import build_context

        clock = None
        if at is not None:
            from indsats.engine.clock import FixedClock, parse_time

            clock = FixedClock(parse_time(at))
        if self._ctx is None or at is not None:
            self._ctx = build_context(self.settings, clock=clock)
        return self._ctx

    @property
    def actor(self) -> str:
        return self.settings.user


class IndsatsGroup(click.Group):
    """Maps IndsatsError to its exit code; keeps tracebacks away from users."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IndsatsError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `indsats … | head`: the reader left; that is not an error
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: say so in one line
            if os.environ.get("INDSATS_DEBUG"):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__} (a bug; run with INDSATS_DEBUG=1 for details)", err=True
            )
            sys.exit(1)


pass_obj = click.make_pass_decorator(Obj)


@click.group(cls=IndsatsGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Database URL or SQLite file (else INDSATS_DATABASE_URL, else the data dir).")
@click.version_option(package_name="indsats")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """indsats: run municipal action plans (indsatsplaner) as cases that remind and escalate."""
    os.umask(0o077)  # every file indsats writes (database, WAL, outbox, exports) is for its owner only
    ctx.obj = Obj(db)


# -- setup and users ---------------------------------------------------------------------------------


@main.command()
@pass_obj
def init(obj: Obj) -> None:
    """Create or upgrade the database; on an empty one, register you (INDSATS_USER) as admin."""
    from indsats.bootstrap import ensure_key_file
    from indsats.engine.setup import init_database

    result = init_database(obj.context(), actor=obj.actor)
    click.echo(f"Database ready: {result.database} (schema {result.revision})")
    made = ensure_key_file(obj.settings)
    if made is not None:
        click.echo(f"Made an encryption key at {made} (0600). Keep a copy apart from the database: without it,")
        click.echo("subject references and notes cannot be read.")
    if result.admin is not None:
        click.echo(f"Registered '{result.admin.login}' as admin (first user).")


@main.group()
def users() -> None:
    """Register and list users (admins manage them)."""


@users.command("add")
@click.argument("login")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", required=True, help="medarbejder, leder, fagspecialist, socialchef, supervisor or admin.")
@click.option("--email", help="Address for reminders.")
@click.option("--reports-to", "reports_to", metavar="LOGIN", help="Nearest leader (escalations go there).")
@click.option("--unit", help="Organisational unit (tilbud, afdeling).")
@pass_obj
def users_add(obj: Obj, login: str, name: str, role: str, email: str | None, reports_to: str | None, unit: str | None) -> None:
    """Register a user."""
    from indsats.engine.users import add_user

    user = add_user(
        obj.context(), actor=obj.actor, login=login, name=name, role=role, email=email, reports_to=reports_to, unit=unit
    )
    click.echo(f"Added {user.login} ({user.role}).")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def users_list(obj: Obj, as_json: bool) -> None:
    """List registered users."""
    from indsats.engine.users import list_users
    from indsats.render import echo_json, table

    found = list_users(obj.context(), actor=obj.actor)
    if as_json:
        echo_json(found)
        return
    table(
        "Users",
        ["login", "name", "role", "e-mail", "reports to", "unit", "active"],
        [[u.login, u.name, u.role, u.email, u.reports_to, u.unit, "yes" if u.active else "no"] for u in found],
    )


@users.command("deactivate")
@click.argument("login")
@pass_obj
def users_deactivate(obj: Obj, login: str) -> None:
    """Deactivate a user: they can do nothing more."""
    from indsats.engine.users import set_active

    set_active(obj.context(), actor=obj.actor, login=login, active=False)
    click.echo(f"Deactivated {login}.")


# -- plans -----------------------------------------------------------------------------------------


@main.group()
def plans() -> None:
    """List, show and validate plans."""


@plans.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_list(obj: Obj, as_json: bool) -> None:
    """The plans available for new cases; flags a plan past its revision date."""
    from indsats.engine.plans import list_plans
    from indsats.render import echo_json, table

    found = list_plans(obj.context())
    if as_json:
        echo_json(found)
        return
    table(
        "Plans",
        ["id", "title", "version", "approved", "revise by", "status", "file"],
        [
            [p.id, p.title, p.version, p.approved_on or "", p.revision_due or "", "REVISION OVERDUE" if p.revision_overdue else "ok", p.path]
            for p in found
        ],
    )


@plans.command("show")
@click.argument("plan_id", metavar="PLAN")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_show(obj: Obj, plan_id: str, as_json: bool) -> None:
    """States, deadlines, who must act, and the triggers with who may fire them."""
    from indsats.engine.plans import get_plan
    from indsats.render import echo_json, table

    plan = get_plan(obj.context(), plan_id)
    if as_json:
        echo_json(plan.model_dump(mode="json", by_alias=True))
        return
    click.echo(f"{plan.title}  ({plan.id}, version {plan.version})")
    table(
        "States",
        ["state", "label", "who must act", "deadline", "escalate after / repeat"],
        [
            [
                name,
                s.label + (" (final)" if s.final else ""),
                s.responsible.describe() if s.responsible else "",
                s.deadline or "",
                f"{s.reminder.escalate_after} / {s.reminder.repeat}" if s.reminder else "",
            ]
            for name, s in plan.states.items()
        ],
    )
    table(
        "Triggers",
        ["trigger", "from", "to", "who may fire", "fields (* required)"],
        [
            [
                t.trigger,
                ", ".join(t.source),
                t.dest or "(recorded, state unchanged)",
                " or ".join(a.describe() for a in t.allowed),
                ", ".join(f"{n}{'*' if f.required else ''}" for n, f in t.fields.items())
                + (" note*" if t.note_required else ""),
            ]
            for t in plan.transitions
        ],
    )


@plans.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_obj
def plans_validate(obj: Obj, path: str) -> None:
    """Check a plan file completely: schema, durations, reachability, dead ends, who may fire each trigger, and
    (when a database is reachable) whether the registered users can carry a case through it. Errors exit 5."""
    from pathlib import Path

    from indsats.engine.plan_checks import Severity
    from indsats.engine.plans import validate
    from indsats.errors import Invalid

    result = validate(obj.context(), Path(path))
    lines = [
        f"{path}{f':{f.line}' if f.line else ''}: {f.severity.value}: {f.location}: {f.message}"
        for f in result.findings
    ]
    for line in lines:
        click.echo(line)
    errors = [line for line, f in zip(lines, result.findings) if f.severity is Severity.error]
    if errors:
        raise Invalid(f"{len(errors)} problem(s): {errors[0]}")
    if not result.users_checked:
        click.echo(f"Registered users not checked: {result.users_skipped_because}.")
    assert result.plan is not None
    warnings = f", {len(lines)} warning(s)" if lines else ""
    click.echo(f"{path}: plan '{result.plan.id}' is valid (version {result.plan.version}){warnings}.")


@plans.command("export")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@pass_obj
def plans_export(obj: Obj, plan_id: str, fmt: str, output: str | None) -> None:
    """The plan as a document in the template's sections, contacts filled from the registered users."""
    from indsats.engine.plans import export

    _write_out(export(obj.context(), plan_id=plan_id, fmt=fmt), output)


@plans.command("graph")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@pass_obj
def plans_graph(obj: Obj, plan_id: str, fmt: str, output: str | None) -> None:
    """The plan's states and transitions as a diagram (svg needs Graphviz's 'dot')."""
    from indsats.engine.plans import draw

    _write_out(draw(obj.context(), plan_id=plan_id, fmt=fmt), output)


def _write_out(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path

    from indsats.errors import Invalid

    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {output}.")


# -- cases -----------------------------------------------------------------------------------------


@main.command("open")
@click.argument("plan_id", metavar="PLAN")
@click.option("--subject", required=True, metavar="REF", help="Reference to the citizen's record (not a name).")
@click.option(
    "--source",
    default="employee",
    show_default=True,
    type=click.Choice(["employee", "parent", "neighbour", "citizen", "hotline", "anonymous", "other"]),
)
@click.option("--minor", is_flag=True, help="The citizen is under 18 (underretning required before the decision).")
@click.option("--note", help="What was seen or heard.")
@click.option("--reporter", help="Who raised the concern (not with --source anonymous).")
@pass_obj
def open_(obj: Obj, plan_id: str, subject: str, source: str, minor: bool, note: str | None, reporter: str | None) -> None:
    """Register a concern under PLAN. The last line printed is the case id."""
    from indsats.engine.cases import open_case
    from indsats.render import local

    out = open_case(
        obj.context(), actor=obj.actor, plan_id=plan_id, subject_ref=subject, source=source, minor=minor, note=note,
        reporter=reporter,
    )
    click.echo(f"Opened in '{out.state}'; deadline {local(out.deadline)}.", err=False)
    click.echo(out.case_id)


@main.command()
@click.argument("case_id", metavar="CASE")
@click.argument("trigger")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="A field of the trigger (repeatable).")
@click.option("--note", help="A note recorded with the trigger.")
@pass_obj
def advance(obj: Obj, case_id: str, trigger: str, assignments: tuple[str, ...], note: str | None) -> None:
    """Fire TRIGGER on CASE (see 'indsats show CASE' for what you may fire now)."""
    from indsats.engine.cases import advance as advance_case
    from indsats.engine.fields import parse_assignments
    from indsats.render import local

    out = advance_case(
        obj.context(), actor=obj.actor, case_id=case_id, trigger=trigger, values=parse_assignments(list(assignments)),
        note=note,
    )
    if out.state != out.from_state:
        tail = f"; deadline {local(out.deadline)}" if out.deadline else " (closed)"
        click.echo(f"{out.case_id}: {out.from_state} → {out.state}{tail}")
    else:
        click.echo(f"{out.case_id}: '{trigger}' recorded; still in '{out.state}'")


@main.command()
@click.argument("case_id", metavar="CASE")
@click.argument("text")
@pass_obj
def note(obj: Obj, case_id: str, text: str) -> None:
    """Add a note to CASE."""
    from indsats.engine.cases import add_note

    out = add_note(obj.context(), actor=obj.actor, case_id=case_id, text=text)
    click.echo(f"{out.case_id}: note added (event {out.event_seq}).")


@main.command()
@click.argument("case_id", metavar="CASE")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def show(obj: Obj, case_id: str, as_json: bool) -> None:
    """State, who must act, deadline, and the triggers open to you now with their fields."""
    from indsats.engine.views import show_case
    from indsats.render import echo_json, local

    view = show_case(obj.context(), actor=obj.actor, case_id=case_id)
    if as_json:
        echo_json(view)
        return
    status = "open" if view.is_open else f"closed {local(view.closed_at)}"
    click.echo(f"{view.id}  {view.plan_title} ({view.plan_id} v{view.plan_version})  [{status}]"
               + ("  AKUT" if view.acute else "") + ("  under 18" if view.minor else ""))
    click.echo(f"State:      {view.state} – {view.state_label} (since {local(view.state_entered_at)})")
    click.echo(f"Opened:     {local(view.opened_at)} by {view.opened_by} (source: {view.source})")
    if view.is_open:
        who = ", ".join(f"{p.name} ({p.login}, {p.role})" for p in view.must_act) or "nobody registered"
        click.echo(f"Must act:   {who}")
        if view.deadline is not None:
            kind = "working time" if view.working_time else "elapsed"
            left = view.time_left_text or ""
            late = left.startswith("-")
            click.echo(
                f"Deadline:   {local(view.deadline)} ({view.deadline_rule}); "
                + (f"OVERDUE by {left[1:]} ({kind})" if late else f"{left} left ({kind})")
            )
        click.echo(f"Escalation: level {view.escalation_level}; reminders sent: {view.reminders_sent}")
        if view.action_card:
            click.echo("Action card:")
            for item in view.action_card:
                click.echo(f"  [ ] {item}")
        if view.possible:
            click.echo("You may now:")
            for option in view.possible:
                click.echo(f"  {option.trigger:<30} {option.label}")
                for f in option.fields:
                    click.echo(f"      --set {f.name}=<{f.type}>{'  (required)' if f.required else ''}  {f.label}")
                if option.note_required:
                    click.echo("      --note TEXT  (required)")
        else:
            click.echo("You may now: nothing (you are not the one to act in this state)")


@main.command()
@click.argument("case_id", metavar="CASE")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def history(obj: Obj, case_id: str, as_json: bool) -> None:
    """Every event of CASE, oldest first."""
    from indsats.engine.views import case_history
    from indsats.render import echo_json, local, table

    events = case_history(obj.context(), actor=obj.actor, case_id=case_id)
    if as_json:
        echo_json(events)
        return
    rows = []
    for e in events:
        move = e.to_state if e.from_state in (None, e.to_state) else f"{e.from_state} → {e.to_state}"
        detail = "" if e.payload is None else ", ".join(f"{k}={v}" for k, v in e.payload.items())
        rows.append([e.seq, local(e.at), e.kind.value, e.actor or "", e.trigger or "", move or "", detail])
    table(f"History of {case_id}", ["#", "at", "event", "actor", "trigger", "state", "details"], rows)


@main.command()
@click.option("--plan", "plan_id", help="Only cases under this plan.")
@click.option("--state", help="Only cases in this state.")
@click.option("--open", "which", flag_value="open", default=True, help="Open cases (default).")
@click.option("--closed", "which", flag_value="closed", help="Closed cases.")
@click.option("--all", "which", flag_value="all", help="Open and closed cases.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def cases(obj: Obj, plan_id: str | None, state: str | None, which: str, as_json: bool) -> None:
    """List the cases you may see."""
    from indsats.engine.views import list_cases
    from indsats.render import echo_json, local, table

    is_open = {"open": True, "closed": False, "all": None}[which]
    found = list_cases(obj.context(), actor=obj.actor, plan_id=plan_id, state=state, is_open=is_open)
    if as_json:
        echo_json(found)
        return
    table(
        f"Cases ({which})",
        ["case", "plan", "state", "opened", "by", "deadline", "level", "acute"],
        [
            [c.id, c.plan_id, c.state_label, local(c.opened_at), c.opened_by, local(c.deadline), c.escalation_level,
             "yes" if c.acute else ""]
            for c in found
        ],
    )


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def verify(obj: Obj, as_json: bool) -> None:
    """Replay every case's hash chain and projection; exit 8 on any break."""
    from indsats.engine.verify import verify as verify_all
    from indsats.errors import IntegrityBroken
    from indsats.render import echo_json

    report = verify_all(obj.context())
    if as_json:
        echo_json({"ok": report.ok, "cases": report.cases, "events": report.events, "problems": report.problems})
    else:
        for problem in report.problems:
            click.echo(problem)
        click.echo(f"Checked {report.cases} cases, {report.events} events: " + ("OK" if report.ok else f"{len(report.problems)} problem(s)"))
    if not report.ok:
        raise IntegrityBroken(f"verify found {len(report.problems)} problem(s); the first: {report.problems[0]}")


@main.command()
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the demo database in this directory.")
def demo(keep: str | None) -> None:
    """The whole story on a temporary SQLite database, narrated."""
    from indsats.demo import run_demo

    run_demo(keep)


# -- reminders -------------------------------------------------------------------------------------


def _worker_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _lease(obj: Obj) -> Any:
    from datetime import timedelta

    return timedelta(seconds=obj.settings.lease_seconds)


@main.command()
@click.option("--at", metavar="TIME", help="Run the sweep as of this time (ISO 8601; local time if no offset).")
@click.option("--dry-run", is_flag=True, help="Show what is due; send nothing, change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def remind(obj: Obj, at: str | None, dry_run: bool, as_json: bool) -> None:
    """One sweep: deliver every due reminder and escalation (cron-friendly)."""
    from indsats.bootstrap import build_notifier
    from indsats.engine.sweep import sweep
    from indsats.render import echo_json, table

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
    if dry_run:
        click.echo(f"Dry run: {len(result.deliveries)} message(s) due; nothing sent.")
    else:
        click.echo(
            f"Sweep via {notifier.describe()}: {result.sent} sent, {result.coalesced} coalesced, "
            f"{result.retrying} to retry, {result.failed} failed, {result.obsolete} obsolete."
        )


@main.command()
@click.option("--every", "every", default=60.0, show_default=True, type=click.FloatRange(min=0.1), metavar="SECONDS")
@pass_obj
def worker(obj: Obj, every: float) -> None:
    """Run the sweep every SECONDS (APScheduler) until SIGTERM/SIGINT."""
    from indsats.bootstrap import build_notifier
    from indsats.engine.sweep import sweep
    from indsats.engine.worker import run_worker

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


@main.group()
def calendar() -> None:
    """The working-time calendar deadlines are counted on."""


@calendar.command("due")
@click.argument("start")
@click.argument("duration", nargs=-1, required=True)
@pass_obj
def calendar_due(obj: Obj, start: str, duration: tuple[str, ...]) -> None:
    """When a deadline of DURATION from START falls, e.g. 'calendar due 2026-12-22T10:00 6 working days'."""
    from indsats.engine.clock import parse_time
    from indsats.engine.durations import parse_duration
    from indsats.render import local

    begin = parse_time(start)
    span = parse_duration(" ".join(duration))
    due = obj.context().calendar.add(begin, span)
    click.echo(f"{local(due)} ({due.strftime('%A')}) — {span} from {local(begin)}, Europe/Copenhagen")


@calendar.command("closed")
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def calendar_closed(obj: Obj, year: int, as_json: bool) -> None:
    """The closed days of YEAR (public holidays, days closed for deadlines, configured days)."""
    from indsats.render import echo_json, table

    cal = obj.context().calendar
    days = cal.closed_days(year)
    if as_json:
        echo_json(days)
        return
    table(f"Closed days {year}", ["date", "weekday", "name", "why"],
          [[d.date.isoformat(), d.date.strftime("%a"), d.name, d.reason.value] for d in days])


# -- supervision -----------------------------------------------------------------------------------


def _parse_date(text: str | None, option: str) -> Any:
    from datetime import date

    from indsats.errors import Invalid

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"bad date '{text}' for {option}: use YYYY-MM-DD, e.g. 2026-03-02") from None


STUCK_COLUMNS = ["case", "plan", "state", "must act", "role", "deadline", "overdue by", "level", "reminders",
                 "last activity", "failed", "reason"]


@main.command()
@click.option("--at", metavar="TIME", help="As of this time (ISO 8601; local time if no offset). Default: now.")
@click.option("--plan", "plan_id", help="Only cases under this plan.")
@click.option("--unit", help="Only cases opened in this unit.")
@click.option("--role", help="Only cases where this role must act.")
@click.option("--overdue-by", "overdue_by", metavar="DURATION", help="Only cases overdue by at least this, e.g. '1 working day'.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, to stdout.")
@pass_obj
def stuck(obj: Obj, at: str | None, plan_id: str | None, unit: str | None, role: str | None,
          overdue_by: str | None, as_json: bool, as_csv: bool) -> None:
    """Open cases past their state's deadline, most overdue first, and cases whose reminders failed."""
    from indsats.engine.clock import parse_time
    from indsats.engine.durations import parse_duration
    from indsats.engine.supervision import stuck_cases
    from indsats.render import echo_json, local, table

    when = None if at is None else parse_time(at)
    threshold = None if overdue_by is None else parse_duration(overdue_by)
    found = stuck_cases(obj.context(), actor=obj.actor, at=when, plan_id=plan_id, unit=unit, role=role,
                        overdue_by=threshold)
    if as_json:
        echo_json(found)
        return
    rows = [
        [s.case_id, s.plan_id, s.state_label, ", ".join(f"{p.name} ({p.login})" for p in s.must_act),
         ", ".join(sorted({p.role for p in s.must_act})), local(s.deadline), s.overdue_text or "",
         s.escalation_level, s.reminders_sent, local(s.last_activity_at), s.failed_reminders, s.reason.value]
        for s in found
    ]
    if as_csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(STUCK_COLUMNS)
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    table(f"Stuck cases ({len(found)})", STUCK_COLUMNS, rows)


@main.command()
@click.option("--plan", "plan_id", help="Only this plan.")
@click.option("--since", metavar="DATE", help="From this day (YYYY-MM-DD, local), included.")
@click.option("--until", metavar="DATE", help="To this day (YYYY-MM-DD, local), included. Default: now.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write one self-contained HTML page (chart and stuck list) to FILE.")
@pass_obj
def report(obj: Obj, plan_id: str | None, since: str | None, until: str | None, as_json: bool,
           html_file: str | None) -> None:
    """Per state: cases passed, median and 90th-percentile working time in it, share on time, breaches."""
    from indsats.engine.supervision import step_report, stuck_cases
    from indsats.render import echo_json, table

    ctx = obj.context()
    result = step_report(ctx, actor=obj.actor, plan_id=plan_id, since=_parse_date(since, "--since"),
                         until=_parse_date(until, "--until"))
    if html_file is not None:
        from pathlib import Path

        from indsats.report_html import report_page

        page = report_page(result, stuck_cases(ctx, actor=obj.actor, plan_id=plan_id))
        Path(html_file).write_text(page, encoding="utf-8")
    if as_json:
        echo_json(result)
        return
    for plan in result.plans:
        table(
            f"{plan.title} ({plan.plan_id})",
            ["state", "passed", "median", "p90", "on time", "breaches", "escalations", "open now"],
            [[s.label, s.passed, s.median_text or "", s.p90_text or "",
              "" if s.on_time_share is None else f"{s.on_time_share:.0%}", s.breaches, s.escalations, s.open_now]
             for s in plan.states],
        )
    if html_file is not None:
        click.echo(f"Wrote {html_file}")


# -- operations ------------------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@pass_obj
def backup(obj: Obj, file: str) -> None:
    """Copy the SQLite database to the new FILE (mode 0600) while others keep working; admins only.
    For PostgreSQL use pg_dump."""
    from pathlib import Path

    from indsats.engine.backup import backup_database

    result = backup_database(obj.context(), actor=obj.actor, target=Path(file))
    click.echo(f"Backed up {result.database} to {result.target} ({result.size_bytes:,} bytes).")


# -- privacy ---------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Encryption keys for subject references, notes and sensitive fields."""


@keys.command("new")
@click.argument("path", type=click.Path(dir_okay=False))
def keys_new(path: str) -> None:
    """Write a new key file (0600); point INDSATS_KEY_FILE at it."""
    from pathlib import Path

    from indsats.engine.crypto import new_key
    from indsats.keyfile import write_key

    write_key(Path(path), new_key())
    click.echo(f"Wrote a new key to {path}.")


@keys.command("rotate")
@click.option("--new-key-file", type=click.Path(dir_okay=False), help="Write the new key here (else replace the key file).")
@pass_obj
def keys_rotate(obj: Obj, new_key_file: str | None) -> None:
    """Re-encrypt everything under a new key, in one transaction (admin)."""
    from pathlib import Path

    from indsats.engine.crypto import new_key
    from indsats.engine.keys import rotate_keys
    from indsats.keyfile import write_key

    settings = obj.settings
    if new_key_file is None and settings.key:
        raise Invalid("the key comes from INDSATS_KEY: give --new-key-file for the new one")
    target = Path(new_key_file) if new_key_file else settings.key_file.with_name(settings.key_file.name + ".new")
    key = new_key()
    write_key(target, key)
    try:
        done = rotate_keys(obj.context(), actor=obj.actor, new_key=key)
    except BaseException:
        target.unlink(missing_ok=True)  # nothing was re-encrypted: the new key opens nothing
        raise
    if new_key_file is None:
        old = settings.key_file.with_name(settings.key_file.name + ".old")
        os.replace(settings.key_file, old)
        os.replace(target, settings.key_file)
        click.echo(f"Rotated: {done.cases} case(s), {done.events} event(s). New key in {settings.key_file}; "
                   f"the old one is {old} (it opens only old backups).")
    else:
        click.echo(f"Rotated: {done.cases} case(s), {done.events} event(s). Now set INDSATS_KEY_FILE={target}.")


@main.command()
@click.argument("case_id", metavar="CASE", required=False)
@click.option("--user", "login", metavar="LOGIN", help="What this user looked at.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def audit(obj: Obj, case_id: str | None, login: str | None, as_json: bool) -> None:
    """Who viewed and who changed CASE, or what --user LOGIN looked at (admin, supervisor)."""
    from indsats.engine.audit import audit_case, audit_user
    from indsats.render import echo_json, local, table

    if (case_id is None) == (login is None):
        raise click.UsageError("give either CASE or --user LOGIN")
    if case_id is not None:
        entries = audit_case(obj.context(), actor=obj.actor, case_id=case_id)
    else:
        entries = audit_user(obj.context(), actor=obj.actor, login=login or "")
    if as_json:
        echo_json(entries)
        return
    table(f"Access log: {case_id or login}", ["at", "case", "who", "role", "what"],
          [[local(e.at), e.case_id, e.login, e.role, e.action] for e in entries])


@main.group()
def access() -> None:
    """Grants review."""


@access.command("review")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def access_review_cmd(obj: Obj, as_json: bool) -> None:
    """Who can see which open cases, and why (admin, supervisor)."""
    from indsats.engine.audit import access_review
    from indsats.render import echo_json, table

    grants = access_review(obj.context(), actor=obj.actor)
    if as_json:
        echo_json(grants)
        return
    table("Who can see which open case", ["case", "login", "role", "why"],
          [[g.case_id, g.login, g.role, g.reason] for g in grants])


@main.group()
def archive() -> None:
    """Retention: hand over cases due for deletion."""


@archive.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--before", metavar="DATE", help="Cases whose retention ran out before this date (default: now).")
@pass_obj
def archive_export_cmd(obj: Obj, path: str, before: str | None) -> None:
    """Write the cases due for deletion, with their events, to PATH (JSON, 0600) and mark them archived."""
    from pathlib import Path

    from indsats.engine.retention import archive_export

    result = archive_export(obj.context(), actor=obj.actor, path=Path(path), before=_parse_date(before, "--before"))
    click.echo(f"Archived {len(result.cases)} case(s) to {path}.")


@main.command()
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@pass_obj
def purge(obj: Obj, dry_run: bool) -> None:
    """Remove the personal data of archived cases past their plan's retention rule (admin)."""
    from indsats.engine.retention import purge as purge_cases

    result = purge_cases(obj.context(), actor=obj.actor, dry_run=dry_run)
    if dry_run:
        click.echo(f"Would purge {len(result.cases)} case(s): {', '.join(result.cases) or '-'}")
        if result.refused:
            click.echo(f"Due but not archived (purge will refuse): {', '.join(result.refused)}")
    else:
        click.echo(f"Purged {len(result.cases)} case(s): {', '.join(result.cases) or '-'}")


@main.group()
def subject() -> None:
    """The citizen's right of access."""


@subject.command("export")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--with-names", is_flag=True, help="Name employees (default: their roles only).")
@pass_obj
def subject_export(obj: Obj, ref: str, path: str, with_names: bool) -> None:
    """Everything held about subject REF, with the access log about it, to PATH (admin)."""
    from pathlib import Path

    from indsats.engine.subjects import export_subject

    result = export_subject(obj.context(), actor=obj.actor, subject_ref=ref, path=Path(path), with_names=with_names)
    click.echo(f"Wrote {len(result.cases)} case(s) to {path}.")

