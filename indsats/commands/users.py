"""Setting up and the people: ``init`` and the ``users`` group (admins manage users)."""

from __future__ import annotations

import click

from indsats.commands.base import Obj, pass_obj


# -- setup and users ---------------------------------------------------------------------------------


@click.command()
@pass_obj
def init(obj: Obj) -> None:
    """Create or upgrade the database; on an empty one, register you (INDSATS_USER) as admin."""
    from indsats.bootstrap import ensure_key_file, ensure_signing_key
    from indsats.engine.org.setup import init_database, may_make_key
    from indsats.engine.privacy.fingerprints import record_key

    ctx = obj.context()
    result = init_database(ctx, actor=obj.actor)
    click.echo(f"Database ready: {result.database} (schema {result.revision})")
    if not obj.settings.key and not obj.settings.key_file.exists():
        may_make_key(ctx)  # an existing database is under its own key: never make a new one for it
    made = ensure_key_file(obj.settings)
    if made is not None:
        click.echo(f"Made an encryption key at {made} (0600). Keep a copy apart from the database: without it,")
        click.echo("subject references and notes cannot be read.")
    record_key(ctx)
    signing = ensure_signing_key(obj.settings)
    if signing is not None:
        click.echo(f"Made the seal signing key at {signing} (0600) and its public key beside it ('indsats seal').")
    if result.admin is not None:
        click.echo(f"Registered '{result.admin.login}' as admin (first user).")


@click.group()
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
    from indsats.engine.org.users import add_user

    user = add_user(
        obj.context(), actor=obj.actor, login=login, name=name, role=role, email=email, reports_to=reports_to, unit=unit
    )
    click.echo(f"Added {user.login} ({user.role}).")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def users_list(obj: Obj, as_json: bool) -> None:
    """List registered users."""
    from indsats.engine.org.users import list_users
    from indsats.commands.render import echo_json, table

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
    from indsats.engine.org.users import set_active

    set_active(obj.context(), actor=obj.actor, login=login, active=False)
    click.echo(f"Deactivated {login}.")
