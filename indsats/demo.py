"""``indsats demo``: the whole story of one case on a temporary SQLite database, narrated.

It runs the real service functions on a real database, with a clock the demo moves forward, so a
stall, a reminder and an escalation happen in seconds rather than days.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import click

from indsats.errors import IndsatsError

START = datetime.fromisoformat("2026-03-02T09:15:00+01:00")  # a Monday morning in Copenhagen


def run_demo(keep: str | None = None, *, narrate_to_stderr: bool = False) -> dict[str, object]:
    """Tell the story (on stdout, or on stderr so that stdout carries only ``--json``); return its outcome."""
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return _story(Path(keep), narrate_to_stderr, kept=True)
    with tempfile.TemporaryDirectory(prefix="indsats-demo-") as tmp:
        return _story(Path(tmp), narrate_to_stderr, kept=False)


def _story(folder: Path, to_stderr: bool, *, kept: bool) -> dict[str, object]:
    from indsats.engine.privacy import access_log as audit
    from indsats.engine.cases import service as cases
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

    def say(text: str) -> None:
        click.echo(click.style("▸ ", fg="cyan") + text, err=to_stderr)

    def at() -> str:
        return click.style(f"[{local(clock.now())}]", dim=True)

    def attempt(description: str, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except IndsatsError as exc:
            say(f"{description} → refused (exit {exc.exit_code}): {exc.message}")

    click.echo(click.style("indsats demo — the radicalisation plan, one case from concern to decision\n", bold=True),
               err=to_stderr)
    init_database(ctx, actor="admin")
    say(f"{at()} A new SQLite database at {db_path}; 'admin' registered as the first admin.")
    for login, name, role, leader in [
        ("sol", "Socialchef (eksempel)", "socialchef", None),
        ("lea", "Leder (eksempel)", "leder", "sol"),
        ("emil", "Medarbejder (eksempel)", "medarbejder", "lea"),
        ("fie", "Fagspecialist (eksempel)", "fagspecialist", None),
    ]:
        users.add_user(ctx, actor="admin", login=login, name=name, role=role, email=f"{login}@example.org",
                       reports_to=leader)
    say("The admin registers sol (socialchef), lea (leder, reports to sol), emil (medarbejder, reports to lea), "
        "fie (fagspecialist).")

    out = cases.open_case(ctx, actor="emil", plan_id="radikalisering", subject_ref="CITIZEN-REF-0001",
                          source="parent", note="A parent is worried about their son's new friends.")
    case = out.case_id
    say(f"{at()} emil opens {case} after a parent's concern: state '{out.state}', deadline {local(out.deadline)} "
        "(4 working hours).")
    attempt("lea tries 'notify_leader' for emil", lambda: cases.advance(ctx, actor="lea", case_id=case,
                                                                           trigger="notify_leader"))

    clock.set(datetime.fromisoformat("2026-03-03T13:00:00+01:00"))
    say(f"{at()} Nobody acted. The reminder job runs its sweep:")
    result = sweep(ctx, notifier, worker="demo", mail_from="indsats@example.org")
    for d in result.deliveries:
        say(f"    {d.kind} (level {d.level}) to {', '.join(d.recipients)}")
    first = json.loads(outbox.read_text(encoding="utf-8").splitlines()[-1])
    say(f"    e-mail subject: “{first['subject']}” (no citizen data in it)")

    cases.advance(ctx, actor="emil", case_id=case, trigger="notify_leader")
    say(f"{at()} emil tells his leader: notify_leader → leader_notified.")
    clock.advance(minutes=30)
    cases.advance(ctx, actor="lea", case_id=case, trigger="notify_specialist")
    say(f"{at()} lea contacts the specialist: notify_specialist → specialist_notified.")
    cases.advance(ctx, actor="sol", case_id=case, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    say(f"{at()} sol, lea's own leader, records that the head of social services was told (state unchanged).")

    clock.set(datetime.fromisoformat("2026-03-05T10:00:00+01:00"))
    attempt("fie assesses without a summary",
            lambda: cases.advance(ctx, actor="fie", case_id=case, trigger="assess"))
    cases.advance(ctx, actor="fie", case_id=case, trigger="assess",
                  values={"summary": "Individual assessment with the Infohus.", "signs": "relations:moderate",
                          "infohus": "yes"})
    say(f"{at()} fie records the assessment (signs by category and strength; no verdict computed).")
    clock.advance(hours=3)
    out = cases.advance(ctx, actor="lea", case_id=case, trigger="decide",
                        values={"police_report": "no", "rationale": "No criminal offence suspected.",
                                "follow_up": "concern_conversation"})
    say(f"{at()} lea decides: no police report; follow-up: a concern conversation. The case is {out.state}.")

    history = views.case_history(ctx, actor="lea", case_id=case)
    say(f"History: {len(history)} events — " + ", ".join(e.kind.value for e in history))
    stored = db_path.read_bytes() + b"".join(p.read_bytes() for p in folder.glob("demo.db-*"))
    say("The citizen reference and the notes are encrypted at rest: "
        + ("found in the database file!" if b"CITIZEN-REF-0001" in stored else "not found in the database file."))
    log = audit.audit_case(ctx, actor="admin", case_id=case)
    say("Access log (admin): " + "; ".join(f"{e.login} {e.action}" for e in log if e.action.startswith("viewed")))
    report = verify(ctx)
    say(f"verify: {report.cases} case(s), {report.events} events, hash chain and projection "
        + ("OK" if report.ok else "BROKEN"))
    click.echo(click.style("\nDone. Try it yourself: see the README's tour of the CLI.", bold=True), err=to_stderr)
    return {"database": str(db_path) if kept else None, "case_id": case, "state": out.state,
            "events": len(history), "verified": report.ok}
