"""The command line: parse, call one service function, render (a table for people, ``--json`` for scripts).

Every user-facing error is an ``IndsatsError``: it is printed as one line on stderr and the command
exits with its code. Anything else is a bug: exit 1, one line, and the traceback only with INDSATS_DEBUG=1.
Heavy libraries are imported inside the commands, so ``indsats --help`` starts fast.
"""

from __future__ import annotations

import os

import click

from indsats.cli_base import IndsatsGroup, Obj, pass_obj
from indsats.cli_data import access, archive, audit, backup, keys, purge, subject
from indsats.cli_plans import plans
from indsats.cli_reminders import calendar, remind, worker
from indsats.cli_supervision import report, stuck
from indsats.errors import EXIT_CODES


EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in sorted(EXIT_CODES.items()))

@click.group(cls=IndsatsGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Database URL or SQLite file (else INDSATS_DATABASE_URL, else the data dir).")
@click.version_option(package_name="indsats")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """indsats: run municipal action plans (indsatsplaner) as cases that remind and escalate."""
    os.umask(0o077)  # every file indsats writes (database, WAL, outbox, exports) is for its owner only
    # indsats uses no pydantic plugins; looking for them scans every installed package (~20 ms a command).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
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
    click.echo(f"Subject:    {view.subject_ref or '(purged)'}")
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


# The command groups that live in their own modules.
for _command in (plans, remind, worker, calendar, stuck, report, backup, keys, audit, access, archive, purge, subject):
    main.add_command(_command)
