"""Setting up and the people: ``init`` and the ``users`` group (admins manage users)."""

from __future__ import annotations

from typing import Any

import click

from indsats.commands.base import Obj, json_option, pass_obj
from indsats.i18n import _


# -- setup and users ---------------------------------------------------------------------------------


@click.command()
@json_option
@pass_obj
def init(obj: Obj, as_json: bool) -> None:
    """Create or upgrade the database; on an empty one, register you (INDSATS_USER) as admin."""
    from indsats.bootstrap import ensure_key_file, ensure_signing_key
    from indsats.engine.org.setup import init_database, may_make_key
    from indsats.engine.privacy.fingerprints import record_key

    ctx = obj.context()
    result = init_database(ctx, actor=obj.actor)
    say = _quiet if as_json else click.echo
    say(_("Database ready: {database} (schema {revision})").format(database=result.database, revision=result.revision))
    if not obj.settings.key and not obj.settings.key_file.exists():
        may_make_key(ctx)  # an existing database is under its own key: never make a new one for it
    made = ensure_key_file(obj.settings)
    if made is not None:
        say(_("Made an encryption key at {file} (0600). Keep a copy apart from the database: without it, "
              "subject references and notes cannot be read.").format(file=made))
    record_key(ctx)
    signing = ensure_signing_key(obj.settings)
    if signing is not None:
        say(_("Made the seal signing key at {file} (0600) and its public key beside it ('indsats seal').").format(
            file=signing))
    if result.admin is not None:
        say(_("Registered '{login}' as admin (first user).").format(login=result.admin.login))
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"database": result.database, "revision": result.revision,
                   "admin": result.admin.login if result.admin is not None else None,
                   "key_file_made": None if made is None else str(made),
                   "signing_key_made": None if signing is None else str(signing)})


def _quiet(message: str) -> None:
    """Under --json the narration is left out: stdout is the one JSON object."""


def _user_out(user: object, as_json: bool, message: str) -> None:
    """A changed user: as JSON, or the one line ``message``."""
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(user)
    else:
        click.echo(message)


@click.group()
def users() -> None:
    """Register users, grant them the roles of each plan, and keep the organisation as it is (admins)."""


@users.command("add")
@click.argument("login")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", help="admin or supervisor (the installation's own), or a plan role: a grant in every plan declaring it.")
@click.option("--email", help="Address for reminders.")
@click.option("--reports-to", "reports_to", metavar="LOGIN", help="Nearest leader (escalations go there).")
@click.option("--unit", help="Organisational unit (tilbud, afdeling).")
@json_option
@pass_obj
def users_add(obj: Obj, login: str, name: str, role: str | None, email: str | None, reports_to: str | None,
              unit: str | None, as_json: bool) -> None:
    """Register a user (grant plan roles with 'indsats users grant')."""
    user = obj.run("users.add", login=login, name=name, role=role, email=email, reports_to=reports_to, unit=unit)
    _user_out(user, as_json, _("Added {login} ({held}).").format(login=user.login, held=user.held))


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def users_list(obj: Obj, as_json: bool) -> None:
    """List registered users and the roles they hold, per plan."""
    from indsats.commands.render import echo_json, table

    found = obj.run("users.list")
    if as_json:
        echo_json(found)
        return

    def deputy(u: Any) -> str:
        if not u.deputy:
            return ""
        span = f" {u.deputy_from or '…'}–{u.deputy_until or '…'}" if (u.deputy_from or u.deputy_until) else ""
        return u.deputy + span

    def active(u: Any) -> str:
        if u.active:
            return _("yes")
        if u.handed_over_to:
            return _("no (handed over to {login})").format(login=u.handed_over_to)
        return _("no")

    table(
        _("Users"),
        [_("login"), _("name"), _("roles"), _("e-mail"), _("reports to"), _("unit"), _("deputy"), _("active")],
        [[u.login, u.name, u.held, u.email, u.reports_to, u.unit, deputy(u), active(u)] for u in found],
    )


@users.command("grant")
@click.argument("login")
@click.argument("role")
@click.option("--plan", "plan_id", metavar="PLAN", help="Only in this plan (else every plan declaring ROLE).")
@click.option("--unit", help="Only for the cases of this unit.")
@json_option
@pass_obj
def users_grant(obj: Obj, login: str, role: str, plan_id: str | None, unit: str | None, as_json: bool) -> None:
    """Grant LOGIN the plan role ROLE."""
    user = obj.run("users.grant", login=login, role=role, plan_id=plan_id, unit=unit)
    _user_out(user, as_json, _("{login} now holds: {held}.").format(login=user.login, held=user.held))


@users.command("revoke")
@click.argument("login")
@click.argument("role")
@click.option("--plan", "plan_id", metavar="PLAN", help="Only in this plan (else in every plan).")
@click.option("--handover-to", "handover_to", metavar="LOGIN",
              help="Who takes over the open duties LOGIN has through ROLE (granted ROLE there if need be).")
@json_option
@pass_obj
def users_revoke(obj: Obj, login: str, role: str, plan_id: str | None, handover_to: str | None, as_json: bool) -> None:
    """Take the plan role ROLE away from LOGIN. Refused (exit 5) while open cases need LOGIN through it,
    unless handed over."""
    from dataclasses import asdict

    done = obj.run("users.revoke", login=login, role=role, plan_id=plan_id, handover_to=handover_to)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({**asdict(done.user), "handed_over_to": done.handed_over_to,
                   "cases": [{"case_id": d.case_id, "duties": list(d.duties)} for d in done.cases]})
        return
    for duty in done.cases:
        click.echo(_handed_over(duty, done.handed_over_to))
    click.echo(_("{login} now holds: {held}.").format(login=done.user.login, held=done.user.held))


@users.command("edit")
@click.argument("login")
@click.option("--name", help="Full name.")
@click.option("--email", help="Address for reminders.")
@click.option("--reports-to", "reports_to", metavar="LOGIN", help="A new nearest leader.")
@click.option("--no-reports-to", "no_reports_to", is_flag=True, help="No leader any more.")
@click.option("--unit", help="Organisational unit.")
@json_option
@pass_obj
def users_edit(obj: Obj, login: str, name: str | None, email: str | None, reports_to: str | None,
               no_reports_to: bool, unit: str | None, as_json: bool) -> None:
    """Change a user; the next reminder or escalation follows the change. A new leader (or none) is refused
    (exit 5) while it would leave a case with nobody to act."""
    from indsats.errors import Invalid

    if reports_to is not None and no_reports_to:
        raise Invalid(_("give --reports-to LOGIN or --no-reports-to, not both"))
    extra = {"reports_to": None} if no_reports_to else ({"reports_to": reports_to} if reports_to is not None else {})
    user = obj.run("users.edit", login=login, name=name, email=email, unit=unit, **extra)
    _user_out(user, as_json, _("Changed {login}.").format(login=user.login))


@users.command("deactivate")
@click.argument("login")
@click.option("--handover-to", "handover_to", metavar="LOGIN", help="Who takes over every open duty.")
@json_option
@pass_obj
def users_deactivate(obj: Obj, login: str, handover_to: str | None, as_json: bool) -> None:
    """Deactivate a user: they can do nothing more and receive no mail. Refused (exit 5) while open cases
    need them, unless handed over."""
    done = obj.run("users.deactivate", login=login, handover_to=handover_to)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"login": login, "active": False, "handed_over_to": done.handed_over_to,
                   "cases": [{"case_id": d.case_id, "duties": list(d.duties)} for d in done.cases],
                   "reports_moved": list(done.reports_moved)})
        return
    for duty in done.cases:
        click.echo(_handed_over(duty, done.handed_over_to))
    if done.reports_moved:
        click.echo(_("Now reporting to {login}: {logins}").format(login=done.handed_over_to,
                                                                 logins=", ".join(done.reports_moved)))
    click.echo(_("Deactivated {login}.").format(login=login))


@users.command("reactivate")
@click.argument("login")
@json_option
@pass_obj
def users_reactivate(obj: Obj, login: str, as_json: bool) -> None:
    """Let a deactivated user act and receive reminders again."""
    user = obj.run("users.reactivate", login=login)
    _user_out(user, as_json, _("Reactivated {login}.").format(login=login))


@users.command("deputy")
@click.argument("login")
@click.option("--to", "deputy", metavar="LOGIN", help="The deputy: receives and may act in LOGIN's place.")
@click.option("--from", "start", metavar="DATE", help="First day (YYYY-MM-DD; default: today).")
@click.option("--until", "end", metavar="DATE", help="Last day (YYYY-MM-DD; default: until cleared).")
@click.option("--clear", is_flag=True, help="No deputy any more.")
@json_option
@pass_obj
def users_deputy(obj: Obj, login: str, deputy: str | None, start: str | None, end: str | None, clear: bool,
                 as_json: bool) -> None:
    """Name a deputy for LOGIN (an absent leader), or clear it."""
    user = obj.run("users.deputy", login=login, deputy=deputy, start=start, end=end, clear=clear)
    if clear:
        _user_out(user, as_json, _("{login} has no deputy.").format(login=login))
        return
    start_text = user.deputy_from or _("now")
    end_text = user.deputy_until or _("cleared")
    _user_out(user, as_json, _("{deputy} stands in for {login} from {start} until {end}.").format(
        deputy=user.deputy, login=login, start=start_text, end=end_text))


def _handed_over(duty: Any, to: str | None) -> str:
    """One case handed over: its id, to whom, and the duties that went with it."""
    return _("{case_id}: handed over to {login} ({duties})").format(case_id=duty.case_id, login=to,
                                                                   duties=", ".join(map(_, duty.duties)))
