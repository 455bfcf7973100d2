"""``indsats demo``: the whole story of one case on a temporary SQLite database, narrated.

It runs the real service functions on a real database, with a clock the demo moves forward, so a
stall, a reminder and an escalation happen in seconds rather than days. It is told in the installation's
language (Danish by default), with the plan's own labels for its states and triggers.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import click

from indsats.errors import IndsatsError
from indsats.i18n import N_, _

PLAN = "radikalisering"
START = datetime.fromisoformat("2026-03-02T09:15:00+01:00")  # a Monday morning in Copenhagen


def run_demo(keep: str | None = None, *, narrate_to_stderr: bool = False) -> dict[str, object]:
    """Tell the story (on stdout, or on stderr so that stdout carries only ``--json``); return its outcome."""
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return _story(Path(keep), narrate_to_stderr, kept=True)
    with tempfile.TemporaryDirectory(prefix="indsats-demo-") as tmp:
        return _story(Path(tmp), narrate_to_stderr, kept=False)


# The kinds of message a sweep sends, as the narration names them.
DELIVERY_WORDS = {"notice": N_("notice"), "warning": N_("warning"), "reminder": N_("reminder"),
                  "escalation": N_("escalation"), "acute": N_("acute")}


def _story(folder: Path, to_stderr: bool, *, kept: bool) -> dict[str, object]:
    from indsats.engine.privacy import access_log as audit
    from indsats.engine.cases import service as cases
    from indsats.engine.cases.record import kind_text, state_text, trigger_text
    from indsats.engine.org import users
    from indsats.engine.cases import views
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.engine.time.clock import FixedClock
    from indsats.engine.context import Context
    from indsats.engine.privacy.crypto import Keyring, new_key
    from indsats.adapters.outbox import OutboxNotifier
    from indsats.engine.org.setup import init_database
    from indsats.engine.plans.wording import duration_text
    from indsats.engine.reminders.sweep import sweep
    from indsats.engine.log.verify import verify
    from indsats.commands.render import local
    from indsats.storage.database import Database

    clock = FixedClock(START)
    db_path = folder / "demo.db"
    outbox = folder / "outbox.jsonl"
    ctx = Context(
        db=Database(f"sqlite:///{db_path}"), clock=clock, catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
        keys=Keyring.fixed(new_key()),
    )
    notifier = OutboxNotifier(outbox)
    plan = ctx.catalog.get(PLAN).plan

    def say(text: str) -> None:
        click.echo(click.style("▸ ", fg="cyan") + text, err=to_stderr)

    def at() -> str:
        return click.style(f"[{local(clock.now())}]", dim=True)

    def attempt(description: str, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except IndsatsError as exc:
            say(_("{what} → refused (exit {code}): {message}").format(what=description, code=exc.exit_code,
                                                                     message=exc.message))

    def moved(trigger: str, state: str) -> str:
        return _("{trigger} → {state}").format(trigger=trigger_text(plan, trigger), state=state_text(plan, state))

    click.echo(click.style(_("indsats demo — the radicalisation plan, one case from concern to decision") + "\n",
                           bold=True), err=to_stderr)
    init_database(ctx, actor="admin")
    say(_("{at} A new SQLite database at {path}; 'admin' registered as the first admin.").format(
        at=at(), path=db_path))
    example = _("example")
    for login, title, role, leader in [
        ("sol", "Socialchef", "socialchef", None),
        ("lea", "Leder", "leder", "sol"),
        ("emil", "Medarbejder", "medarbejder", "lea"),
        ("fie", "Fagspecialist", "fagspecialist", None),
    ]:
        users.add_user(ctx, actor="admin", login=login, name=f"{title} ({example})", role=role,
                       email=f"{login}@example.org", reports_to=leader)
    say(_("The admin registers sol (socialchef), lea (leder, reports to sol), emil (medarbejder, reports to lea), "
          "fie (fagspecialist)."))

    out = cases.open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="CITIZEN-REF-0001",
                          source="parent", note=_("A parent is worried about their son's new friends."))
    case = out.case_id
    say(_("{at} emil opens {case} after a parent's concern: state '{state}', deadline {deadline} ({rule}).").format(
        at=at(), case=case, state=state_text(plan, out.state), deadline=local(out.deadline),
        rule=duration_text(plan.states[out.state].deadline)))
    attempt(_("lea tries '{trigger}' for emil").format(trigger=trigger_text(plan, "notify_leader")),
            lambda: cases.advance(ctx, actor="lea", case_id=case, trigger="notify_leader"))

    clock.set(datetime.fromisoformat("2026-03-03T13:00:00+01:00"))
    say(_("{at} Nobody acted. The reminder job runs its sweep:").format(at=at()))
    result = sweep(ctx, notifier, worker="demo", mail_from="indsats@example.org")
    for d in result.deliveries:
        words = DELIVERY_WORDS.get(d.kind)
        say("    " + _("{kind} (level {level}) to {recipients}").format(
            kind=d.kind if words is None else _(words), level=d.level, recipients=", ".join(d.recipients)))
    first = json.loads(outbox.read_text(encoding="utf-8").splitlines()[-1])
    say("    " + _("e-mail subject: “{subject}” (no citizen data in it)").format(subject=first["subject"]))

    cases.advance(ctx, actor="emil", case_id=case, trigger="notify_leader")
    say(_("{at} emil tells his leader: {moved}.").format(at=at(), moved=moved("notify_leader", "leader_notified")))
    clock.advance(minutes=30)
    cases.advance(ctx, actor="lea", case_id=case, trigger="notify_specialist")
    say(_("{at} lea contacts the specialist: {moved}.").format(
        at=at(), moved=moved("notify_specialist", "specialist_notified")))
    cases.advance(ctx, actor="sol", case_id=case, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    say(_("{at} sol, lea's own leader, records that the head of social services was told (state unchanged).").format(
        at=at()))

    clock.set(datetime.fromisoformat("2026-03-05T10:00:00+01:00"))
    attempt(_("fie assesses without a summary"),
            lambda: cases.advance(ctx, actor="fie", case_id=case, trigger="assess"))
    cases.advance(ctx, actor="fie", case_id=case, trigger="assess",
                  values={"summary": _("Individual assessment with the Infohus."), "signs": "relations:moderate",
                          "infohus": "yes"})
    say(_("{at} fie records the assessment (signs by category and strength; no verdict computed).").format(at=at()))
    clock.advance(hours=3)
    out = cases.advance(ctx, actor="lea", case_id=case, trigger="decide",
                        values={"police_report": "no", "rationale": _("No criminal offence suspected."),
                                "follow_up": "concern_conversation"})
    say(_("{at} lea decides: no police report; follow-up: a concern conversation. The case is now: {state}.").format(
        at=at(), state=state_text(plan, out.state)))

    history = views.case_history(ctx, actor="lea", case_id=case)
    say(_("History: {count} events — {kinds}").format(count=len(history),
                                                      kinds=", ".join(kind_text(e.kind) for e in history)))
    stored = db_path.read_bytes() + b"".join(p.read_bytes() for p in folder.glob("demo.db-*"))
    say(_("The citizen reference and the notes are encrypted at rest: found in the database file!")
        if b"CITIZEN-REF-0001" in stored else
        _("The citizen reference and the notes are encrypted at rest: not found in the database file."))
    log = audit.audit_case(ctx, actor="admin", case_id=case)
    reads = [_("{login} read it ({command})").format(login=e.login, command=e.action.removeprefix("viewed (")[:-1])
             for e in log if e.action.startswith("viewed")]
    say(_("Access log (admin): {reads}").format(reads="; ".join(reads)))
    report = verify(ctx)
    say((_("verify: {cases} case(s), {events} events, hash chain and projection OK") if report.ok else
         _("verify: {cases} case(s), {events} events, hash chain and projection BROKEN")).format(
        cases=report.cases, events=report.events))
    click.echo(click.style("\n" + _("Done. Try it yourself: see the README's tour of the CLI."), bold=True),
               err=to_stderr)
    return {"database": str(db_path) if kept else None, "case_id": case, "state": out.state,
            "events": len(history), "verified": report.ok}
