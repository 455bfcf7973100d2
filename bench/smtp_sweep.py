"""SMTP sweep: 10,000 due reminders sent by ``sweep()`` through ``SmtpNotifier`` to a local aiosmtpd sink,
against a bare ``smtplib`` loop sending the same mails (same headers, quoted-printable UTF-8 body) over
one connection. Each side runs in its own process; the sink runs in a third.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from bench import world
from bench.harness import Options, Row, interleave, median, profile_file, profiled, run_child
from bench.smtp_sink import smtp_sink
from bench.sweep_outbox import REFERENCE_BODY, build_template, fresh_copy

NAME = "smtp-sweep"
GOAL = 0.7


def indsats_child(db: str, port: int, profile_to: str | None = None) -> dict[str, Any]:
    from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url
    from indsats.engine.reminders.sweep import sweep
    from indsats.storage.database import Database

    ctx = world.make_context(Database(f"sqlite:///{db}"))
    notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "indsats@example.org")
    start = perf_counter()
    with profiled(profile_to):
        result = sweep(ctx, notifier, worker="bench", mail_from="indsats@example.org")
    seconds = perf_counter() - start
    ctx.db.dispose()
    return {"seconds": seconds, "sent": result.sent}


def reference_child(n: int, port: int) -> dict[str, Any]:
    """Build and send ``n`` mails like indsats's over one smtplib connection."""
    import smtplib

    start = perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
        for number in range(1, n + 1):
            case_id = f"RAD-2026-{number:07d}"
            mail = EmailMessage(policy=SMTP_POLICY)
            mail["From"] = "indsats@example.org"
            mail["To"] = "emil@example.org"
            mail["Subject"] = f"Påmindelse: sag {case_id} – Mistanke registreret – overskredet med 1 t"
            mail["Message-ID"] = f"<indsats-reminder-{number}@example.org>"
            mail["Date"] = format_datetime(world.MONDAY, usegmt=True)
            mail["Auto-Submitted"] = "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
            body = REFERENCE_BODY.format(case_id=case_id, due="2. mar 2026 08:00", late="1 t")
            mail.set_content(body, charset="utf-8", cte="quoted-printable")
            connection.send_message(mail, from_addr="indsats@example.org", to_addrs=["emil@example.org"])
    return {"seconds": perf_counter() - start, "sent": n}


def run(options: Options) -> list[Row]:
    n = 300 if options.quick else 10_000
    repeats = 2 if options.quick else 3
    template = build_template(options.workdir / f"smtp-{n}.db", n)
    with smtp_sink() as (port, received):

        def indsats_side(i: int) -> float:
            db = fresh_copy(template, f"smtp-ours-{i}.db")
            done = run_child("bench.smtp_sweep:indsats_child", {"db": str(db), "port": port})
            if done["sent"] != n:
                raise RuntimeError(f"the SMTP sweep sent {done['sent']} of {n}")
            return float(done["seconds"])

        def reference_side(_i: int) -> float:
            return float(run_child("bench.smtp_sweep:reference_child", {"n": n, "port": port})["seconds"])

        timings = interleave(indsats_side, reference_side, repeats=repeats)
        ours, theirs = n / median(timings.indsats), n / median(timings.reference)
        row = Row(
            name="SMTP sweep", measure="mails/s", indsats=ours, reference=theirs,
            reference_name="bare smtplib loop, one connection", goal=f"≥ {GOAL}× reference", met=None,
            ratios=timings.ratios(rate=True),
            detail=f"{n:,} reminders to a local aiosmtpd sink (own process), batches of 200, {repeats} repeats",
        )
        row.met = row.ratio is not None and row.ratio >= GOAL
        if not row.met:
            out = options.workdir / "smtp.prof"
            run_child("bench.smtp_sweep:indsats_child", {"db": str(fresh_copy(template, "smtp-prof.db")), "port": port},
                      profile_to=out)
            row.profile = profile_file(Path(out))
    expected = 2 * repeats * n + (0 if row.met else n)
    if received and received[0] != expected:
        row.detail += f"; the sink counted {received[0]:,} mails, expected {expected:,}"
    return [row]
