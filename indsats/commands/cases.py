"""The case commands: open, advance, note, show, history, cases, verify."""

from __future__ import annotations

from typing import Any

import click

from indsats.commands.base import Obj, json_option, pass_obj, text_from, text_option
from indsats.i18n import _


# -- cases -----------------------------------------------------------------------------------------


@click.command("open")
@click.argument("plan_id", metavar="PLAN")
@text_option("subject", "Reference to the citizen's record (not a name); --subject-file keeps it out of ps.",
             file_help="Read the subject reference from FILE (- is stdin): out of ps and the shell history.",
             metavar="REF")
@click.option("--source", help="Where the concern came from: one of the plan's sources (default: its first).")
@click.option("--flag", "flags", multiple=True, metavar="NAME", help="A flag the plan asks when a case opens (repeatable).")
@click.option("--minor", is_flag=True, help="Short for --flag minor (the radicalisation plan: the citizen is under 18).")
@text_option("note", "What was seen or heard.")
@click.option("--reporter", help="Who raised the concern (not with an anonymous source).")
@json_option
@pass_obj
def open_(obj: Obj, plan_id: str, subject: str | None, subject_file: str | None, source: str | None,
          flags: tuple[str, ...], minor: bool, note: str | None, note_file: str | None, reporter: str | None,
          as_json: bool) -> None:
    """Register a concern under PLAN. The last line printed is the case id."""
    from indsats.commands.render import echo_json, local

    if subject_file == "-" and note_file == "-":
        raise click.UsageError(_("only one of --subject-file and --note-file can read stdin"))
    subject = text_from(subject, subject_file, "subject", required=True)
    note = text_from(note, note_file, "note")
    if source is not None:  # a usage error, as when the sources were fixed (the use case checks them too)
        sources = obj.run("plans.sources", plan_id=plan_id)
        if source not in sources:
            raise click.BadParameter(_("'{source}' is not one of {sources}").format(source=source, sources=", ".join(sources)),
                                     param_hint="'--source'")
    out = obj.run("open", plan_id=plan_id, subject_ref=subject, source=source, minor=minor, note=note,
                  reporter=reporter, flags=list(flags))
    if as_json:
        echo_json(out)
        return
    click.echo(_("Opened in '{state}'; deadline {at}.").format(state=out.state_label or out.state, at=local(out.deadline)),
               err=False)
    click.echo(out.case_id)


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("trigger")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="A field of the trigger (repeatable).")
@click.option("--set-file", "set_files", multiple=True, metavar="FIELD=FILE|-",
              help="A field's value read from FILE (- is stdin): out of ps and the shell history (repeatable).")
@text_option("note", "A note recorded with the trigger.")
@json_option
@pass_obj
def advance(obj: Obj, case_id: str, trigger: str, assignments: tuple[str, ...], set_files: tuple[str, ...],
            note: str | None, note_file: str | None, as_json: bool) -> None:
    """Fire TRIGGER on CASE (see 'indsats show CASE' for what you may fire now)."""
    from indsats.commands.render import echo_json, local

    files = [(pair.partition("=")[0].strip(), pair.partition("=")[2]) for pair in set_files]
    if [f for _, f in files].count("-") + (note_file == "-") > 1:
        raise click.UsageError(_("only one of --set-file and --note-file can read stdin (-)"))
    for name, file in files:
        if not name or not file:
            raise click.UsageError(_("bad --set-file '{name}={file}': use FIELD=FILE (or FIELD=-)").format(name=name,
                                                                                                    file=file))
    note = text_from(note, note_file, "note")
    values = [f"{name}={text_from(None, file, 'set')}" for name, file in files]
    out = obj.run("advance", case_id=case_id, trigger=trigger, assignments=[*assignments, *values], note=note)
    if as_json:
        echo_json(out)
        return
    if out.state != out.from_state:
        tail = _("; deadline {at}").format(at=local(out.deadline)) if out.deadline else " " + _("(closed)")
        click.echo(f"{out.case_id}: {out.from_label or out.from_state} → {out.state_label or out.state}{tail}")
    else:
        click.echo(_("{case_id}: '{trigger}' recorded; still in '{state}'").format(
            case_id=out.case_id, trigger=out.trigger_label or trigger, state=out.state_label or out.state))


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("text", required=False)
@click.option("--note-file", metavar="FILE|-", help="Read the note from FILE (- is stdin): out of ps and the shell history.")
@json_option
@pass_obj
def note(obj: Obj, case_id: str, text: str | None, note_file: str | None, as_json: bool) -> None:
    """Add a note to CASE: TEXT, or --note-file FILE|- (kept out of ps and the shell history)."""
    text = text_from(text, note_file, "note", required=True, value_name="TEXT")
    out = obj.run("note", case_id=case_id, text=text)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(out)
        return
    click.echo(_("{case_id}: note added (event {seq}).").format(case_id=out.case_id, seq=out.event_seq))


@click.command()
@click.argument("case_id", metavar="CASE")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def show(obj: Obj, case_id: str, as_json: bool) -> None:
    """State, who must act, deadline, and the triggers open to you now with their fields."""
    from indsats.commands.render import echo_json, local
    from indsats.engine.plans.wording import duration_text

    view = obj.run("show", case_id=case_id)
    if as_json:
        echo_json(view)
        return
    status = _("open") if view.is_open else _("closed {at}").format(at=local(view.closed_at))
    click.echo(f"{view.id}  {view.plan_title} ({view.plan_id} v{view.plan_version})  [{status}]"
               + ("  " + _("ACUTE") if view.acute else "") + ("  " + _("under 18") if view.minor else ""))
    for label in (v for k, v in view.flags.items() if k != "minor"):
        click.echo(_("Flag:       {label}").format(label=label))
    click.echo(_("State:      {state} – {label} (since {at})").format(
        state=view.state, label=view.state_label, at=local(view.state_entered_at)))
    click.echo(_("Subject:    {subject}").format(subject=view.subject_ref or _("(purged)")))
    click.echo(_("Opened:     {at} by {login} (source: {source})").format(
        at=local(view.opened_at), login=view.opened_by, source=view.source_label or view.source))
    if view.assignee:
        click.echo(_("Caseworker: {login}").format(login=view.assignee))
    if view.is_open:
        who = ", ".join(f"{p.name} ({p.login}, {p.role})" for p in view.must_act) or _("nobody registered")
        click.echo(_("Must act:   {who}").format(who=who))
        if view.deadline is not None:
            kind = _("working time") if view.working_time else _("elapsed")
            left = view.time_left_text or ""
            late = left.startswith("-")
            status = (_("OVERDUE by {span} ({kind})") if late else _("{span} left ({kind})")).format(
                span=left[1:] if late else left, kind=kind)
            click.echo(_("Deadline:   {at} ({rule}); {status}").format(
                at=local(view.deadline), rule=duration_text(view.deadline_rule), status=status))
        if view.paused_at is not None:
            click.echo(_("PAUSED:     since {at}: {reason} (reminders held; deadlines move on by the paused time on "
                         "'indsats resume {case_id}')").format(at=local(view.paused_at),
                                                               reason=view.pause_reason or "", case_id=view.id))
        for d in view.case_deadlines:
            if d.met_at is not None:
                status = _("met {at}").format(at=local(d.met_at))
            else:
                left = d.time_left_text or ""
                status = (_("OVERDUE by {span}") if left.startswith("-") else _("{span} left")).format(
                    span=left[1:] if left.startswith("-") else left)
            extra = "".join([_(", statutory") if d.statutory else "", _(", published") if d.published else ""])
            click.echo(_("Case deadline: {label}: {at} ({rule} from {start}{extra}; met by '{met_by}'); {status}").format(
                label=d.label, at=local(d.due_at), rule=duration_text(d.rule), start=local(d.started_at), extra=extra,
                met_by=d.met_by, status=status))
        click.echo(_("Escalation: level {level}; reminders sent: {sent}").format(
            level=view.escalation_level, sent=view.reminders_sent))
        if view.action_card:
            click.echo(_("Action card:"))
            for item in view.action_card:
                click.echo(f"  [ ] {item}")
        if view.possible:
            click.echo(_("You may now:"))
            for option in view.possible:
                click.echo(f"  {option.trigger:<30} {option.label}")
                for f in option.fields:
                    required = "  " + _("(required)") if f.required else ""
                    click.echo(f"      --set {f.name}=<{f.type}>{required}  {f.label}")
                if option.note_required:
                    click.echo("      --note " + _("TEXT") + "  " + _("(required)"))
        else:
            click.echo(_("You may now: nothing (you are not the one to act in this state)"))
    _echo_record(view.record)


def _echo_record(record: list[Any]) -> None:
    """The notes and the fields recorded on the case (the assessment, the decision), under the plan's labels."""
    from indsats.commands.render import local, printable

    if not record:
        return
    click.echo(_("Recorded:"))
    note = _("Note")
    for entry in record:
        what = entry.trigger_label or entry.trigger or entry.kind
        click.echo(f"  {local(entry.at)}  {entry.actor or ''}: {printable(what)}")
        width = max([len(note)] + [len(f.label) for f in entry.fields])
        for f in entry.fields:
            click.echo(f"      {printable(f.label).ljust(width)}  {printable(f.text)}")
        if entry.note:
            click.echo(f"      {note.ljust(width)}  {printable(entry.note)}")


@click.command()
@click.argument("case_id", metavar="CASE")
@click.option("--json", "as_json", is_flag=True, help="Every event as stored, the viewed ones included.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, to stdout.")
@click.option("--views", is_flag=True, help="Also the 'viewed' rows: who read the case (the access log).")
@pass_obj
def history(obj: Obj, case_id: str, as_json: bool, as_csv: bool, views: bool) -> None:
    """Every event of CASE, oldest first, with the fields under the plan's labels (reads only with --views)."""
    from indsats.commands.render import csv_out, echo_json, local, table

    if as_json:
        echo_json(obj.run("history", case_id=case_id))
        return
    rows = []
    for e in obj.run("history.read", case_id=case_id, views=views):
        to_state, from_state = e.to_label or e.to_state, e.from_label or e.from_state
        move = to_state if e.from_state in (None, e.to_state) else f"{from_state} → {to_state}"
        detail = "; ".join(f"{d.label}: {d.text}" for d in e.details)
        who = _("{actor} for {login}").format(actor=e.actor, login=e.acting_for) if e.acting_for else (e.actor or "")
        rows.append([e.seq, local(e.at), e.kind_label or e.kind, who, e.trigger or "", move or "",
                     e.note or "", detail])
    columns = ["#", _("at"), _("event"), _("actor"), _("trigger"), _("state"), _("note"), _("details")]
    if as_csv:
        csv_out(columns, rows)
        return
    table(_("History of {case_id}").format(case_id=case_id), columns, rows)


@click.command()
@click.option("--plan", "plan_id", help="Only cases under this plan.")
@click.option("--state", help="Only cases in this state.")
@click.option("--open", "which", flag_value="open", default=True, help="Open cases (default).")
@click.option("--closed", "which", flag_value="closed", help="Closed cases.")
@click.option("--all", "which", flag_value="all", help="Open and closed cases.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def cases(obj: Obj, plan_id: str | None, state: str | None, which: str, as_json: bool) -> None:
    """List the cases you may see."""
    from indsats.commands.render import echo_json, local, table

    is_open = {"open": True, "closed": False, "all": None}[which]
    found = obj.run("cases", plan_id=plan_id, state=state, is_open=is_open)
    if as_json:
        echo_json(found)
        return
    table(
        _("Cases ({which})").format(which={"open": _("open"), "closed": _("closed"), "all": _("all")}[which]),
        [_("case"), _("plan"), _("state"), _("opened"), _("by"), _("deadline"), _("level"), _("acute")],
        [
            [c.id, c.plan_id, c.state_label, local(c.opened_at), c.opened_by, local(c.deadline), c.escalation_level,
             _("yes") if c.acute else ""]
            for c in found
        ],
    )


@click.command()
@click.option("--seals", "seals", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Compare with this copy of the seal file (default: the configured seal file).")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def verify(obj: Obj, seals: str | None, as_json: bool) -> None:
    """Replay every chain and check every row against it and the log against the latest seal; exit 8 on any break."""
    from indsats.commands.render import echo_json, local
    from indsats.errors import IntegrityBroken

    report = obj.run("verify", seals=seals)
    if as_json:
        echo_json({
            "ok": report.ok, "complete": report.complete, "cases": report.cases, "events": report.events,
            "org_events": report.org_events, "problems": report.problems,
            "unchecked_payloads": report.unchecked_payloads, "unchecked_subject_refs": report.unchecked_subject_refs,
            "seal": report.seal, "sealed_at": report.sealed_at, "seals_checked": report.seals_checked,
            "unsealed_events": report.unsealed_events, "unsealed_cases": report.unsealed_cases,
            "unsealed_org_events": report.unsealed_org_events,
            "seal_file_seals": report.seal_file_seals, "seals_in_database": report.seals_in_database,
        })
    else:
        for problem in report.problems:
            click.echo(problem)
        verdict = _("OK") if report.ok else _("{n} problem(s)").format(n=len(report.problems))
        if report.ok and not report.complete:
            verdict = _("OK as far as checked")
        click.echo(_("Checked {cases} cases, {events} events, {org_events} organisation events: {verdict}").format(
            cases=report.cases, events=report.events, org_events=report.org_events, verdict=verdict))
        if report.unchecked_payloads or report.unchecked_subject_refs:
            click.echo(_("Not checked without the encryption key: {payloads} encrypted payload(s), {refs} subject "
                         "reference(s).").format(payloads=report.unchecked_payloads,
                                                 refs=report.unchecked_subject_refs))
        if report.seal is None:
            click.echo(_("No seal yet: nothing proves the chains were not recomputed ('indsats seal')."))
        else:
            click.echo(_("Checked against seal {seal} of {at}; not yet sealed: {events} event(s) in {cases} case(s), "
                         "{org_events} organisation event(s).").format(
                seal=report.seal, at=local(report.sealed_at), events=report.unsealed_events,
                cases=report.unsealed_cases, org_events=report.unsealed_org_events))
        if report.seal_file_seals < report.seals_in_database:
            click.echo(_("The seal file holds {held} of the {all} seal(s): keep copies of it elsewhere (a newest seal "
                         "removed from the database is seen only there).").format(
                held=report.seal_file_seals, all=report.seals_in_database))
        if not report.seals_checked:
            click.echo(_("Seal signatures not checked: no public key (INDSATS_SEAL_PUBLIC_KEY_FILE)."))
    if not report.ok:
        raise IntegrityBroken(_("verify found {n} problem(s); the first: {problem}").format(
            n=len(report.problems), problem=report.problems[0]))


@click.command()
@click.argument("case_id", metavar="CASE")
@text_option("reason", "What the case waits for (stored encrypted).")
@json_option
@pass_obj
def pause(obj: Obj, case_id: str, reason: str | None, reason_file: str | None, as_json: bool) -> None:
    """Pause CASE while it waits on someone outside: reminders are held until 'indsats resume CASE'."""
    reason = text_from(reason, reason_file, "reason", required=True)
    from indsats.commands.render import local

    out = obj.run("pause", case_id=case_id, reason=reason)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(out)
        return
    click.echo(_("{case_id}: paused at {at}; {n} reminder(s) held.").format(
        case_id=out.case_id, at=local(out.paused_at), n=out.shifted_reminders))


@click.command()
@click.argument("case_id", metavar="CASE")
@json_option
@pass_obj
def resume(obj: Obj, case_id: str, as_json: bool) -> None:
    """Resume a paused CASE: its deadlines and held reminders move on by the paused time."""
    from indsats.commands.render import local

    out = obj.run("resume", case_id=case_id)
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(out)
        return
    tail = _("; deadline now {at}").format(at=local(out.deadline)) if out.deadline else ""
    click.echo(_("{case_id}: resumed (paused since {at}){tail}; {n} reminder(s) moved on.").format(
        case_id=out.case_id, at=local(out.paused_at), tail=tail, n=out.shifted_reminders))
