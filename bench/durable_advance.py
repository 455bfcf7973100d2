"""Durable advance: transitions per second through the service API (``advance``, one transaction per
transition, reminder rows rewritten) on a SQLite file in WAL mode, against stdlib ``sqlite3`` doing the
same writes on the same schema: update the case with a version check, insert the sealed event, cancel
the pending reminders and insert the new ones (the notice, the reminder, its escalations and the warning),
complete the state visit left (counted into its day row) and begin the one entered, start the case deadlines that start there.
The reference writes the rows indsats wrote for a case walked (``written_rows``): the same reminder kinds and due
times, event payloads, visit deadlines and times, case deadlines. Rows shaped alike but all due "now" touch fewer
index pages (``ix_reminders_status_next`` above all), and the commit, writing those pages, is most of a transition.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bench import world
from indsats.storage.visit_days import UPSERT_VISIT_DAY, stored_time, time_bucket
from bench.harness import Options, Row, interleave, median, profile_call

if TYPE_CHECKING:
    import sqlite3

    from indsats.engine.context import Context

NAME = "durable-advance"
GOAL = 0.5


def walk_cases(ctx: Context, case_ids: list[str]) -> None:
    """Advance every case from 'suspected' to 'decided', one service call per transition."""
    from indsats.engine.cases.service import advance

    for case_id in case_ids:
        for actor, trigger, values in world.WALK:
            advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=values)


class Reference:
    """The same write set with stdlib sqlite3: one ``BEGIN IMMEDIATE`` … ``COMMIT`` per transition.

    ``written`` is what indsats wrote for one case walked (``written_rows``): per state entered, its reminder
    rows (kind, level, due time after entering, the case deadline they are about) and case deadlines, and per
    step the event's payload text, and per state its visit (time spent, deadline), so that the reference writes the same rows, not rows shaped alike."""

    def __init__(self, con: sqlite3.Connection, version: str, written: Written) -> None:
        self.con = con
        self.version = version
        self.written = written

    def open(self, case_ids: list[str]) -> None:
        deadline = world.MONDAY
        self.con.execute("BEGIN IMMEDIATE")
        world.insert_sqlite(self.con, "cases", [world.case_row(c, self.version, state="suspected", deadline=deadline)
                                                for c in case_ids])
        world.insert_sqlite(self.con, "reminders", [
            {**world.reminder_row(c, state="suspected", due=deadline + after, level=level), "kind": kind,
             "deadline": name}
            for c in case_ids for level, kind, after, name in self.written.reminders["suspected"]])
        self.con.executemany(
            "INSERT INTO state_visits (case_id, entry_seq, plan_id, state, entered_at, deadline_at, left_at, time_us,"
            " on_time, paused_us, pauses) VALUES (?, 1, ?, 'suspected', ?, ?, NULL, NULL, NULL, 0, 0)",
            [(c, world.PLAN, world.db_time(deadline), world.db_time(deadline + self.written.visits["suspected"][1]))
             for c in case_ids])
        self.con.execute("COMMIT")

    def walk(self, case_ids: list[str]) -> None:
        now = world.db_time(world.MONDAY)
        times: dict[timedelta, str] = {}

        def at(after: timedelta) -> str:
            found = times.get(after)
            if found is None:
                found = times[after] = world.db_time(world.MONDAY + after)
            return found

        day = world.MONDAY.astimezone(ZoneInfo("Europe/Copenhagen")).date().toordinal()
        con = self.con
        for case_id in case_ids:
            version = 1
            for step, (actor, trigger, _fields) in enumerate(world.WALK):
                source, dest = world.STATES[step], world.STATES[step + 1]
                final = dest == "decided"
                con.execute("BEGIN IMMEDIATE")
                done = con.execute("UPDATE cases SET version = ?, last_activity_at = ? WHERE id = ? AND version = ?",
                                   (version + 1, now, case_id, version))
                if done.rowcount != 1:
                    raise RuntimeError("reference: version check failed")
                version += 1
                last_seq, last_hash = con.execute("SELECT last_seq, last_hash FROM cases WHERE id = ?",
                                                  (case_id,)).fetchone()
                payload = self.written.payloads[step]
                digest = hashlib.sha256((payload or "").encode()).hexdigest()
                seal = hashlib.sha256(f"{last_hash}|{case_id}|{last_seq + 1}|{digest}".encode()).hexdigest()
                con.execute(
                    "INSERT INTO events (case_id, seq, kind, at, actor, trigger, from_state, to_state, payload,"
                    " payload_digest, prev_hash, hash) VALUES (?, ?, 'advanced', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (case_id, last_seq + 1, now, actor, trigger, source, dest, payload, digest, last_hash, seal),
                )
                con.execute("UPDATE reminders SET status = 'cancelled', claimed_by = NULL, lease_until = NULL"
                            " WHERE case_id = ? AND status = 'pending' AND kind != 'acute' AND deadline IS NULL", (case_id,))
                # Time in state: the visit left is completed, the one entered begins (none in a final state).
                spent = self.written.visits[source][0]
                left = con.execute("UPDATE state_visits SET left_at = ?, time_us = ? - paused_us, on_time = ?"
                                   " WHERE case_id = ? AND left_at IS NULL"
                                   " RETURNING plan_id, state, entered_at, time_us, paused_us, pauses",
                                   (now, spent, 1, case_id)).fetchall()
                # ... and counted into the report's day row (plan, state, day entered, day left, time bucket).
                con.executemany(UPSERT_VISIT_DAY, [
                    (plan, state, day, day, time_bucket(time_us), 1, 1, paused_us, int(pauses > 0))
                    for plan, state, _, time_us, paused_us, pauses in left])
                if not final:
                    con.execute("INSERT INTO state_visits (case_id, entry_seq, plan_id, state, entered_at, deadline_at,"
                                " left_at, time_us, on_time, paused_us, pauses)"
                                " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0, 0)",
                                (case_id, last_seq + 1, world.PLAN, dest, now, at(self.written.visits[dest][1])))
                for name, after in self.written.deadlines.get(dest, []):
                    con.execute("INSERT INTO case_deadlines (case_id, name, started_at, started_seq, due_at)"
                                " VALUES (?, ?, ?, ?, ?)", (case_id, name, now, last_seq + 1, at(after)))
                if not final:
                    con.executemany(
                        "INSERT INTO reminders (case_id, state, deadline, entry_seq, level, kind, due_at, status,"
                        " attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
                        [(case_id, dest, name, last_seq + 1, level, kind, at(after), at(after))
                         for level, kind, after, name in self.written.reminders.get(dest, [])],
                    )
                con.execute(
                    "UPDATE cases SET last_seq = ?, last_hash = ?, state = ?, state_entered_at = ?, deadline = ?,"
                    " escalation_level = 0, is_open = ?, closed_at = ? WHERE id = ?",
                    (last_seq + 1, seal, dest, now, None if final else at(self.written.visits[dest][1]), int(not final),
                     now if final else None, case_id),
                )
                con.execute("COMMIT")


def run(options: Options) -> list[Row]:
    from time import perf_counter

    cases_per_repeat = 10 if options.quick else 300
    repeats = 2 if options.quick else 5
    ctx = world.make_context(world.sqlite_database(options.workdir / "advance.db"))
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    warm = world.open_cases(ctx, 5)
    walk_cases(ctx, warm)  # warm up: plan parsed, machine built, statements cached
    written = written_rows(ctx, warm[0])

    ref_db = world.sqlite_database(options.workdir / "advance-ref.db")
    ref_ctx = world.make_context(ref_db)
    world.seed_org(ref_ctx)
    world.pin_plan(ref_ctx)
    ref_db.dispose()
    reference = Reference(world.sqlite_connect(options.workdir / "advance-ref.db"), version, written)

    def indsats_side(_i: int) -> float:
        case_ids = world.open_cases(ctx, cases_per_repeat)
        start = perf_counter()
        walk_cases(ctx, case_ids)
        return perf_counter() - start

    def reference_side(i: int) -> float:
        case_ids = [f"REF-{i}-{n:05d}" for n in range(cases_per_repeat)]
        reference.open(case_ids)
        start = perf_counter()
        reference.walk(case_ids)
        return perf_counter() - start

    timings = interleave(indsats_side, reference_side, repeats=repeats)
    transitions = cases_per_repeat * len(world.WALK)
    ours, theirs = transitions / median(timings.indsats), transitions / median(timings.reference)
    row = Row(
        name="durable advance", measure="transitions/s", indsats=ours, reference=theirs,
        reference_name="stdlib sqlite3, same writes", goal=f"≥ {GOAL}× reference", met=None,
        ratios=timings.ratios(rate=True),
        detail=f"{transitions} transitions × {repeats} rounds, SQLite WAL, synchronous=NORMAL; the reference "
               f"writes the rows indsats wrote for a case (due times, kinds, payloads): {written.summary()}",
    )
    row.met = row.ratio is not None and row.ratio >= GOAL
    if not row.met:
        case_ids = world.open_cases(ctx, 50)
        row.profile = profile_call(lambda: walk_cases(ctx, case_ids))
    ctx.db.dispose()
    reference.con.close()
    return [row]


@dataclass(frozen=True)
class Written:
    """What indsats wrote for one case walked, for the reference to write the same (see ``Reference``)."""

    reminders: dict[str, list[tuple[int, str, timedelta, str | None]]]  # state → (level, kind, due after entry, deadline)
    deadlines: dict[str, list[tuple[str, timedelta]]]  # state → (case deadline started, due after entry)
    payloads: list[str | None]  # the event of each step of the walk: its stored payload text
    visits: dict[str, tuple[int, timedelta]]  # state → (working time spent in it, its deadline after entry)

    def summary(self) -> str:
        return (f"reminder rows per state entered: {({s: len(r) for s, r in self.reminders.items()})}; "
                f"case deadlines started: {({s: [n for n, _ in d] for s, d in self.deadlines.items()}) or 'none'}")


def written_rows(ctx: Context, case_id: str) -> Written:
    """The reminder rows, case deadlines, event payloads and visits indsats wrote for ``case_id``, opened and walked
    at the context's clock (which stands still): times as offsets from it."""
    from sqlalchemy import text

    with ctx.db.connect() as conn:
        states = dict(conn.execute(text("SELECT seq, to_state FROM events WHERE case_id = :c"), {"c": case_id}).all())
        reminders: dict[str, list[tuple[int, str, timedelta, str | None]]] = {}
        for seq, level, kind, due, name in conn.execute(text(
                "SELECT entry_seq, level, kind, due_at, deadline FROM reminders WHERE case_id = :c ORDER BY id"),
                {"c": case_id}):
            reminders.setdefault(states[seq], []).append((level, kind, _after(due), name))
        deadlines: dict[str, list[tuple[str, timedelta]]] = {}
        for seq, name, due in conn.execute(text(
                "SELECT started_seq, name, due_at FROM case_deadlines WHERE case_id = :c ORDER BY started_seq, name"),
                {"c": case_id}):
            deadlines.setdefault(states[seq], []).append((name, _after(due)))
        payloads = [p for (p,) in conn.execute(text("SELECT payload FROM events WHERE case_id = :c AND seq > 1"
                                                    " ORDER BY seq"), {"c": case_id})]
        visits = {state: (int(spent or 0), _after(deadline_at)) for state, spent, deadline_at in conn.execute(text(
            "SELECT state, time_us, deadline_at FROM state_visits WHERE case_id = :c"), {"c": case_id})}
    return Written(reminders=reminders, deadlines=deadlines, payloads=payloads, visits=visits)


def _after(stored: Any) -> timedelta:
    """A stored time as the time after the bench's clock."""
    return stored_time(stored) - world.MONDAY
