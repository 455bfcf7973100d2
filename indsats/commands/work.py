"""Who does the work: ``assign`` (name a case's caseworker) and ``tasks`` (what I must act on now)."""

from __future__ import annotations

import click

from indsats.i18n import _
from indsats.commands.base import Obj, json_option, pass_obj, text_from, text_option


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("login")
@text_option("note", "Why (recorded, encrypted, with the assignment).")
@json_option
@pass_obj
def assign(obj: Obj, case_id: str, login: str, note: str | None, note_file: str | None, as_json: bool) -> None:
    """Name LOGIN the caseworker of CASE (a plan's state may be the caseworker's: relation assignee)."""
    note = text_from(note, note_file, "note")
    out = obj.run("assign", case_id=case_id, login=login, note=note)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(out)
        return
    click.echo(_("{case_id}: {login} is the caseworker (event {seq}).").format(case_id=out.case_id, login=login,
                                                                                seq=out.event_seq))


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def tasks(obj: Obj, as_json: bool) -> None:
    """What you must act on now, across cases and plans, soonest deadline first, with the command for each."""
    from indsats.commands.render import echo_json, local, table

    found = obj.run("tasks")
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(_("Nothing for you to act on now."))
        return
    table(
        _("Your tasks"),
        [_("case"), _("state"), _("deadline"), _("left"), _("for"), _("command")],
        [[t.case_id, t.state_label, local(t.deadline), t.time_left_text or "", t.acting_for or "", t.command]
         for t in found],
    )
