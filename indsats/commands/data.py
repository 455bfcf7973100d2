"""Data protection and operations: backup, keys, the access log, retention and the right of access."""

from __future__ import annotations

import click

from indsats.i18n import N_, _
from indsats.commands.base import Obj, json_option, one_output, output_option, pass_obj
from indsats.errors import Invalid


# -- operations ------------------------------------------------------------------------------------


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@output_option(N_("The new database file (mode 0600)."))
@json_option
@pass_obj
def backup(obj: Obj, file: str | None, output: str | None, as_json: bool) -> None:
    """Copy the SQLite database to the new FILE (-o FILE; mode 0600) while others keep working; admins only.
    For PostgreSQL use pg_dump."""
    file = one_output(file, output, "FILE")
    if file == "-":
        raise click.UsageError(_("a backup is a database file: give -o FILE, not -"))
    obj.context()  # on the database itself: refused through a server
    result = obj.run("backup", target=file)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"database": str(result.database), "file": str(result.target), "size_bytes": result.size_bytes})
        return
    click.echo(_("Backed up {database} to {file} ({size:,} bytes).").format(
        database=result.database, file=result.target, size=result.size_bytes))


# -- privacy ---------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Encryption keys for subject references, notes and sensitive fields."""


@keys.command("new")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def keys_new(path: str, as_json: bool) -> None:
    """Write a new key file (0600); point INDSATS_KEY_FILE at it."""
    from pathlib import Path

    from indsats.engine.privacy.crypto import new_key
    from indsats.adapters.keyfile import write_key

    write_key(Path(path), new_key())
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"file": path})
        return
    click.echo(_("Wrote a new key to {file}.").format(file=path))


@keys.command("rotate")
@click.option("--new-key-file", type=click.Path(dir_okay=False), help="Write the new key here (else replace the key file).")
@click.option("--resume", is_flag=True, help="Only finish an interrupted rotation (running it again does that too).")
@json_option
@pass_obj
def keys_rotate(obj: Obj, new_key_file: str | None, resume: bool, as_json: bool) -> None:
    """Re-encrypt everything under a new key (admin); safe to interrupt: run it again to finish."""
    from pathlib import Path

    from indsats.adapters.keyfile import KeyFiles
    from indsats.engine.privacy.keys import rotate_keys

    obj.context()  # on the database itself: refused through a server, before any key file is written
    settings = obj.settings
    if new_key_file is None and settings.key:
        raise Invalid(_("the key comes from INDSATS_KEY: give --new-key-file for the new one"))
    fixed = settings.key.encode("ascii") if settings.key else None
    store = KeyFiles(settings.key_file, pending=Path(new_key_file) if new_key_file else None, fixed=fixed)
    done = rotate_keys(obj.context(), actor=obj.actor, store=store, resume=resume)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"cases": done.cases, "events": done.events, "fingerprint": done.fingerprint,
                   "resumed": done.resumed, "key_file": new_key_file or str(settings.key_file)})
        return
    said = (_("Finished the interrupted rotation: {cases} case(s), {events} event(s) re-encrypted; the data is "
              "under key {key}.") if done.resumed else
            _("Rotated: {cases} case(s), {events} event(s) re-encrypted; the data is under key {key}."))
    click.echo(said.format(cases=done.cases, events=done.events, key=done.fingerprint))
    if new_key_file is None:
        click.echo(_("The key is in {file}; the old one is kept beside it (it opens only old backups).").format(
            file=settings.key_file))
    else:
        click.echo(_("Now set INDSATS_KEY_FILE={file}.").format(file=new_key_file))


@click.command()
@click.argument("case_id", metavar="CASE", required=False)
@click.option("--user", "login", metavar="LOGIN", help="What this user looked at.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def audit(obj: Obj, case_id: str | None, login: str | None, as_json: bool) -> None:
    """Who viewed and who changed CASE, or what --user LOGIN looked at (admin, supervisor)."""
    from indsats.commands.render import echo_json, local, table

    if (case_id is None) == (login is None):
        raise click.UsageError(_("give either CASE or --user LOGIN"))
    if case_id is not None:
        entries = obj.run("audit.case", case_id=case_id)
    else:
        entries = obj.run("audit.user", login=login or "")
    if as_json:
        echo_json(entries)
        return
    table(_("Access log: {of}").format(of=case_id or login), _log_columns(),
          [[local(e.at), e.case_id,
            e.login if not e.os_login else _("{login} (OS login {os_login})").format(login=e.login, os_login=e.os_login),
            e.role, _action_text(e.action)] for e in entries])


def _log_columns() -> list[str]:
    return [_("at"), _("case"), _("who"), _("role"), _("what")]


def _action_text(action: str) -> str:
    """An access-log entry's action ('viewed (show)', 'advanced assess') in words: the kind of event in the
    reader's language, the trigger or command as its id."""
    from indsats.engine.cases.record import kind_text

    kind, _space, rest = action.partition(" ")
    return f"{kind_text(kind)} {rest}".strip()


@click.group()
def access() -> None:
    """Grants review and the access-log sample."""


@access.command("sample")
@click.option("--size", default=20, show_default=True, type=click.IntRange(min=1), help="How many entries.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1), metavar="DAYS",
              help="From the last DAYS days.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def access_sample_cmd(obj: Obj, size: int, days: int, as_json: bool) -> None:
    """A random sample of reads and changes, each to be justified (admin, supervisor; the worker sends one weekly)."""
    from indsats.commands.render import echo_json, local, table

    entries = obj.run("access.sample", size=size, days=days)
    if as_json:
        echo_json(entries)
        return
    table(_("Access-log sample: {n} of the last {days} day(s)").format(n=len(entries), days=days), _log_columns(),
          [[local(e.at), e.case_id, e.login, e.role, _action_text(e.action)] for e in entries])


@access.command("review")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def access_review_cmd(obj: Obj, as_json: bool) -> None:
    """Who can see which open cases, and why (admin, supervisor)."""
    from indsats.commands.render import echo_json, table

    grants = obj.run("access.review")
    if as_json:
        echo_json(grants)
        return
    table(_("Who can see which open case"), [_("case"), _("login"), _("role"), _("why")],
          [[g.case_id, g.login, g.role, g.reason] for g in grants])


@click.group()
def archive() -> None:
    """Retention: hand over cases due for deletion."""


@archive.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@output_option(N_("Write the archive to FILE (JSON, 0600; - is stdout)."))
@click.option("--before", metavar="DATE", help="Cases whose retention ran out before this date (default: now).")
@json_option
@pass_obj
def archive_export_cmd(obj: Obj, path: str | None, output: str | None, before: str | None, as_json: bool) -> None:
    """Write the cases due for deletion, with their events, to -o FILE (or PATH; JSON, 0600) and mark them archived."""
    path = _export_target(path, output, as_json)
    result = obj.run("archive.export", path=path, before=before)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"file": path, "cases": list(result.cases)})
        return
    click.echo(_("Archived {n} case(s) to {file}.").format(n=len(result.cases), file=_("stdout") if path == "-" else path),
               err=path == "-")


def _export_target(path: str | None, output: str | None, as_json: bool) -> str:
    """The export's file (``-`` is stdout, which then carries the export alone, so not with --json)."""
    from indsats.commands.render import folder_of

    target = one_output(path, output, "PATH")
    if target == "-" and as_json:
        raise click.UsageError(_("-o - writes the export to stdout: leave out --json (or give -o FILE)"))
    folder_of(target)
    return target


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@json_option
@pass_obj
def purge(obj: Obj, dry_run: bool, as_json: bool) -> None:
    """Remove the personal data of archived cases past their plan's retention rule (admin)."""
    result = obj.run("purge", dry_run=dry_run)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"dry_run": dry_run, "cases": list(result.cases), "refused": list(result.refused)})
        return
    listed = ", ".join(result.cases) or "-"
    if dry_run:
        click.echo(_("Would purge {n} case(s): {cases}").format(n=len(result.cases), cases=listed))
        if result.refused:
            click.echo(_("Due but not archived (purge will refuse): {cases}").format(cases=", ".join(result.refused)))
    else:
        click.echo(_("Purged {n} case(s): {cases}").format(n=len(result.cases), cases=listed))


@click.group()
def subject() -> None:
    """The citizen's right of access."""


@subject.command("export")
@click.argument("ref", required=False)
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--subject-file", metavar="FILE|-",
              help="Read REF from FILE (- is stdin) instead of the command line: out of ps and the shell history.")
@output_option(N_("Write the export to FILE (JSON, 0600; - is stdout)."))
@click.option("--with-names", is_flag=True, help="Name employees (default: their roles only).")
@json_option
@pass_obj
def subject_export(obj: Obj, ref: str | None, path: str | None, subject_file: str | None, output: str | None,
                   with_names: bool, as_json: bool) -> None:
    """Everything held about subject REF (or --subject-file FILE|-), with the access log about it, to -o FILE
    (or PATH) (admin)."""
    from indsats.commands.base import text_from

    if subject_file is not None and path is None:  # `subject export --subject-file - PATH`: the one argument is PATH
        ref, path = None, ref
    target = _export_target(path, output, as_json)
    ref = text_from(ref, subject_file, "subject", required=True, value_name="REF")
    result = obj.run("subject.export", subject_ref=ref, path=target, with_names=with_names)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json({"file": target, "cases": list(result.cases)})  # the cases' ids; the reference stays out of stdout
        return
    click.echo(_("Wrote {n} case(s) to {file}.").format(n=len(result.cases), file=_("stdout") if target == "-" else target),
               err=target == "-")
