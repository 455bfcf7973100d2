"""Sweep: 100,000 due reminders delivered to the outbox file by ``sweep()``, against stdlib ``sqlite3``
claiming a batch, appending it to a file and marking it sent. Each run is its own process (peak RSS is
that process's VmHWM) on a fresh copy of the same database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from bench import world
from bench.harness import Options, Row, Timings, median, profile_file, profiled, run_child

NAME = "sweep"
GOAL = 0.5
RSS_LIMIT_MB = 150.0
RSS_GROWTH = 0.20
BATCH = 200
# About the size of a rendered reminder (subject and body); the reference writes one per row.
REFERENCE_BODY = (
    "Du er ansvarlig for det næste skridt i denne sag, og fristen er overskredet med {late}.\n\n"
    "Sag:        {case_id} (Indsatsplan – Radikalisering)\nTrin:       Mistanke registreret\n"
    "Ansvarlig:  medarbejder\nFrist:      {due}\nStatus:     overskredet\n\nHandlekort for trinnet:\n"
    "- Notér hvad du har set eller hørt, hvornår og fra hvem (ingen vurdering endnu).\n"
    "- Er der akut fare? Ring 112 (eller 114) og registrér det med 'acute'.\n"
    "- Underret din nærmeste leder i dag.\n"
    "- Er borgeren under 18, så underret kommunen (underretning) – det er din personlige pligt.\n\n"
    "Næste skridt for den ansvarlige:\n  indsats advance {case_id} notify_leader\n\n"
    "Se sagen:   indsats show {case_id}\n\n"
    "Denne besked indeholder med vilje ingen oplysninger om borgeren. Svar ikke på den; brug indsats.\n"
)


def build_template(path: Path, n: int) -> Path:
    """A database with the organisation, the plan pinned, and ``n`` open cases each with one due reminder."""
    db = world.sqlite_database(path)
    ctx = world.make_context(db)
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    db.dispose()
    cases, reminders = world.due_reminder_world(n, version)
    con = world.sqlite_connect(path)
    con.execute("BEGIN IMMEDIATE")
    world.insert_sqlite(con, "cases", cases)
    world.insert_sqlite(con, "reminders", reminders)
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def fresh_copy(template: Path, name: str) -> Path:
    target = template.with_name(name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, target)
    return target


# -- the two sides, each run in a child process ---------------------------------------------------


def indsats_child(
    db: str, outbox: str, batch_size: int = BATCH, smtp_port: int | None = None, profile_to: str | None = None
) -> dict[str, Any]:
    """``sweep()`` until nothing is due, to the outbox (or to SMTP on ``smtp_port``)."""
    from indsats.adapters.outbox import OutboxNotifier
    from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url
    from indsats.engine.reminders.sweep import sweep
    from indsats.storage.database import Database

    ctx = world.make_context(Database(f"sqlite:///{db}"))
    if smtp_port is None:
        notifier: Any = OutboxNotifier(Path(outbox))
    else:
        notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{smtp_port}"), "indsats@example.org")
    start, cpu = perf_counter(), process_time()
    with profiled(profile_to):
        result = sweep(ctx, notifier, worker="bench", mail_from="indsats@example.org", batch_size=batch_size)
    seconds, cpu = perf_counter() - start, process_time() - cpu
    ctx.db.dispose()
    return {"seconds": seconds, "cpu_seconds": cpu, "sent": result.sent, "claimed": result.claimed}


def append_messages(outbox: str, rows: list[tuple[int, str, str, str]], now: str) -> None:
    """Append one JSON line per (reminder id, case id, state label, due) to ``outbox`` and fsync it."""
    payload = "".join(
        json.dumps({"reminder_id": rid, "message_id": f"<indsats-reminder-{rid}@example.org>",
                    "to": ["emil@example.org"], "subject": f"Påmindelse: sag {case_id} – {label}",
                    "body": REFERENCE_BODY.format(case_id=case_id, due=due, late="1 t"), "sent_at": now},
                   ensure_ascii=False) + "\n"
        for rid, case_id, label, due in rows
    ).encode()
    fd = os.open(outbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def reference_child(db: str, outbox: str, batch_size: int = BATCH) -> dict[str, Any]:
    """Claim a batch (lease), append it to a file (fsync), mark it sent: stdlib sqlite3 only."""
    now = world.db_time(world.MONDAY)
    lease = world.db_time(world.MONDAY + timedelta(minutes=5))
    con = world.sqlite_connect(Path(db))
    sent = 0
    start, cpu = perf_counter(), process_time()
    while True:
        con.execute("BEGIN IMMEDIATE")
        ids = [r[0] for r in con.execute(
            "SELECT id FROM reminders WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?",
            (now, now, batch_size))]
        if not ids:
            con.execute("COMMIT")
            break
        marks = ", ".join("?" * len(ids))
        con.execute(f"UPDATE reminders SET claimed_by = 'ref', lease_until = ? WHERE id IN ({marks})", (lease, *ids))
        rows = con.execute(f"SELECT id, case_id, due_at FROM reminders WHERE id IN ({marks})"
                           " ORDER BY next_attempt_at, id", ids).fetchall()
        con.execute("COMMIT")
        append_messages(outbox, [(rid, case_id, "Mistanke registreret", due) for rid, case_id, due in rows], now)
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "UPDATE reminders SET status = 'sent', sent_at = ?, attempts = attempts + 1, claimed_by = NULL,"
            " lease_until = NULL WHERE id = ? AND claimed_by = 'ref' AND status = 'pending'",
            [(now, rid) for rid, _, _ in rows])
        con.execute("COMMIT")
        sent += len(rows)
    seconds, cpu = perf_counter() - start, process_time() - cpu
    con.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "sent": sent, "claimed": sent}


def same_writes_child(db: str, outbox: str, batch_size: int = BATCH) -> dict[str, Any]:
    """The sweep's own writes with stdlib sqlite3 and as little Python as they take: claim a batch (lease) and
    read its cases in one transaction, append the messages to a file (fsync), then in a second one mark them
    sent, append each case's sealed ``reminder_sent`` event (canonical JSON, the payload digest and the chain
    hash) and move each case's head. What the engine adds to it is the cost of deciding: who hears of a
    reminder, whether it still stands, the working time it is late by, its text."""
    now_at = world.MONDAY
    now = world.db_time(now_at)
    lease = world.db_time(now_at + timedelta(minutes=5))
    at_text = now_at.replace(microsecond=0).isoformat()
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    con = world.sqlite_connect(Path(db))
    sent = 0
    start, cpu = perf_counter(), process_time()
    while True:
        con.execute("BEGIN IMMEDIATE")
        rows = con.execute(
            "UPDATE reminders SET claimed_by = 'ref', lease_until = ? WHERE id IN (SELECT id FROM reminders"
            " WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
            " ORDER BY next_attempt_at, id LIMIT ?) RETURNING id, case_id, state, level, kind, due_at",
            (lease, now, now, batch_size)).fetchall()
        if not rows:
            con.execute("COMMIT")
            break
        rows.sort()
        marks = ", ".join("?" * len(rows))
        states = dict(con.execute(f"SELECT id, state FROM cases WHERE id IN ({marks})", [r[1] for r in rows]))
        con.execute("COMMIT")
        append_messages(outbox, [(rid, case_id, states[case_id], due) for rid, case_id, _s, _l, _k, due in rows], now)
        con.execute("BEGIN IMMEDIATE")
        heads = {cid: [seq, last, n] for cid, seq, last, n in con.execute(
            f"SELECT id, last_seq, last_hash, reminders_sent FROM cases WHERE id IN ({marks})", [r[1] for r in rows])}
        events = []
        for rid, case_id, state, level, kind, _due in rows:
            head = heads[case_id]
            text = encoder.encode({"reminder_id": rid, "level": level, "kind": kind, "recipients": ["emil"]})
            digest = hashlib.sha256(text.encode()).hexdigest()
            seq = head[0] + 1
            line = encoder.encode([head[1], case_id, seq, "reminder_sent", at_text, None, None, state, state, digest])
            chained = hashlib.sha256(line.encode()).hexdigest()
            events.append((case_id, seq, "reminder_sent", now, state, state, text, digest, head[1], chained))
            head[0], head[1], head[2] = seq, chained, head[2] + 1
        con.executemany(
            "UPDATE reminders SET status = 'sent', sent_at = ?, attempts = attempts + 1, claimed_by = NULL,"
            " lease_until = NULL, recipients = ? WHERE id = ? AND claimed_by = 'ref' AND status = 'pending'",
            [(now, '["emil"]', r[0]) for r in rows])
        con.executemany(
            "INSERT INTO events (case_id, seq, kind, at, from_state, to_state, payload, payload_digest, prev_hash,"
            " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        con.executemany("UPDATE cases SET last_seq = ?, last_hash = ?, reminders_sent = ? WHERE id = ?",
                        [(seq, last, n, cid) for cid, (seq, last, n) in heads.items()])
        con.execute("COMMIT")
        sent += len(rows)
    seconds, cpu = perf_counter() - start, process_time() - cpu
    con.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "sent": sent, "claimed": sent}


# -- the benchmark ----------------------------------------------------------------------------------


def run(options: Options) -> list[Row]:
    big, small = (2_000, 500) if options.quick else (100_000, 10_000)
    repeats = 2 if options.quick else 3
    work = options.workdir
    templates = {n: build_template(work / f"sweep-{n}.db", n) for n in (big, small)}

    def side(target: str, n: int, tag: str, results: list[dict[str, Any]], profile_to: Path | None = None):  # noqa: ANN202
        def run_once(i: int) -> float:
            db = fresh_copy(templates[n], f"sweep-{tag}-{i}.db")
            outbox = work / f"outbox-{tag}-{i}.jsonl"
            done = run_child(f"bench.sweep_outbox:{target}", {"db": str(db), "outbox": str(outbox)},
                             profile_to=profile_to)
            if done["sent"] != n:
                raise RuntimeError(f"{target} sent {done['sent']} of {n} reminders")
            results.append(done)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            outbox.unlink(missing_ok=True)
            return float(done["seconds"])
        return run_once

    ours_big: list[dict[str, Any]] = []
    ref_big: list[dict[str, Any]] = []
    same_big: list[dict[str, Any]] = []
    # Three sides, interleaved round by round (the order turning), so drift and the neighbours hit all alike.
    sides = [side("indsats_child", big, "ours", ours_big), side("reference_child", big, "ref", ref_big),
             side("same_writes_child", big, "same", same_big)]
    seconds: list[list[float]] = [[], [], []]
    for i in range(repeats):
        for k in (i % 3, (i + 1) % 3, (i + 2) % 3):
            seconds[k].append(sides[k](i))
    timings = Timings(indsats=seconds[0], reference=seconds[1])
    same = Timings(indsats=seconds[0], reference=seconds[2])
    ours_small: list[dict[str, Any]] = []
    side("indsats_child", small, "ours-small", ours_small)(0)
    ours, theirs = big / median(timings.indsats), big / median(timings.reference)
    rate = Row(
        name="sweep", measure="rows/s", indsats=ours, reference=theirs,
        reference_name="stdlib sqlite3 claim + mark + append to a file", goal=f"≥ {GOAL}× reference",
        met=None, ratios=timings.ratios(rate=True),
        detail=f"{big:,} due reminders to the outbox, batches of {BATCH}, {repeats} repeats, a process each",
    )
    rate.met = rate.ratio is not None and rate.ratio >= GOAL
    same_rate = Row(
        name="sweep, against its own writes", measure="rows/s", indsats=ours, reference=big / median(same.reference),
        reference_name="stdlib sqlite3 doing the sweep's writes: claim, mark, sealed event, case head, outbox",
        goal=f"≥ {GOAL}× reference", met=None, ratios=same.ratios(rate=True),
        detail=f"the same runs as the row above; the reference claims and reads the cases in one transaction, "
               f"appends the messages (fsync), then marks the rows sent, appends each case's reminder_sent event "
               f"(canonical JSON, payload digest, chain hash) and moves its head in a second: "
               f"{median(same.reference) / median(timings.reference):.2f}× the time of the row above's reference",
    )
    same_rate.met = same_rate.ratio is not None and same_rate.ratio >= GOAL
    rss_big = median([r["peak_rss_mb"] for r in ours_big])
    rss_small = ours_small[0]["peak_rss_mb"]
    rss = Row(
        name="sweep, peak RSS", measure="MB", indsats=rss_big, reference=rss_small,
        reference_name=f"the same sweep of {small:,} rows",
        goal=f"≤ {RSS_LIMIT_MB:.0f} MB and ≤ {1 + RSS_GROWTH:.1f}× the {small:,}-row run",
        met=rss_big <= RSS_LIMIT_MB and rss_big <= (1 + RSS_GROWTH) * rss_small,
        detail=f"VmHWM of the sweeping process at {big:,} rows (reference: {small:,} rows; "
               f"stdlib reference at {big:,}: {median([r['peak_rss_mb'] for r in ref_big]):.0f} MB)",
    )
    if not rate.met or not rss.met:
        out = work / "sweep.prof"
        side("indsats_child", small, "profile", [], profile_to=out)(0)
        text = f"(profile of the {small:,}-row sweep)\n" + profile_file(out)
        rate.profile = text if not rate.met else None
        rss.profile = text if not rss.met else None
    return [rate, same_rate, rss]
