"""Durable advance: transitions per second through the service API (``advance``, one transaction per
transition, reminder rows rewritten) on a SQLite file in WAL mode, against stdlib ``sqlite3`` doing the
same writes on the same schema: update the case with a version check, insert the sealed event, cancel
the pending reminders and insert the new ones (the notice, the reminder, its escalations and the warning),
complete the state visit left (counted into its day row) and begin the one entered, start the case deadlines that start there.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bench import world
from indsats.storage.visit_days import UPSERT_VISIT_DAY
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
    """The same write set with stdlib sqlite3: one ``BEGIN IMMEDIATE`` … ``COMMIT`` per transition."""

    def __init__(self, con: sqlite3.Connection, version: str, reminders_per_state: dict[str, int],
                 deadlines_per_state: dict[str, list[str]] | None = None) -> None:
        self.con = con
        self.version = version
        self.reminders_per_state = reminders_per_state
        self.deadlines_per_state = deadlines_per_state or {}

    def open(self, case_ids: list[str]) -> None:
        deadline = world.MONDAY
        self.con.execute("BEGIN IMMEDIATE")
        world.insert_sqlite(self.con, "cases", [world.case_row(c, self.version, state="suspected", deadline=deadline)
                                                for c in case_ids])
        world.insert_sqlite(self.con, "reminders", [world.reminder_row(c, state="suspected", due=deadline, level=lv)
                                                    for c in case_ids
                                                    for lv in range(self.reminders_per_state["suspected"])])
        self.con.executemany(
            "INSERT INTO state_visits (case_id, entry_seq, plan_id, state, entered_at, deadline_at, left_at, time_us,"
            " on_time, paused_us, pauses) VALUES (?, 1, ?, 'suspected', ?, ?, NULL, NULL, NULL, 0, 0)",
            [(c, world.PLAN, world.db_time(deadline), world.db_time(deadline)) for c in case_ids])
        self.con.execute("COMMIT")

    def walk(self, case_ids: list[str]) -> None:
        now = world.db_time(world.MONDAY)
        day = world.MONDAY.astimezone(ZoneInfo("Europe/Copenhagen")).date().toordinal()
        con = self.con
        for case_id in case_ids:
            version = 1
            for step, (actor, trigger, values) in enumerate(world.WALK):
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
                payload = json.dumps({"fields": values}, sort_keys=True, separators=(",", ":")) if values else None
                digest = hashlib.sha256((payload or "").encode()).hexdigest()
                seal = hashlib.sha256(f"{last_hash}|{case_id}|{last_seq + 1}|{digest}".encode()).hexdigest()
                con.execute(
                    "INSERT INTO events (case_id, seq, kind, at, actor, trigger, from_state, to_state, payload,"
                    " payload_digest, prev_hash, hash) VALUES (?, ?, 'advanced', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (case_id, last_seq + 1, now, actor, trigger, source, dest, payload, digest, last_hash, seal),
                )
                con.execute("UPDATE reminders SET status = 'cancelled', claimed_by = NULL, lease_until = NULL"
                            " WHERE case_id = ? AND status = 'pending' AND kind != 'acute'", (case_id,))
                # Time in state: the visit left is completed, the one entered begins (none in a final state).
                left = con.execute("UPDATE state_visits SET left_at = ?, time_us = ? - paused_us, on_time = ?"
                                   " WHERE case_id = ? AND left_at IS NULL"
                                   " RETURNING plan_id, state, entered_at, time_us, paused_us, pauses",
                                   (now, 3_600_000_000, 1, case_id)).fetchall()
                # ... and counted into the report's day row (plan, state, day entered, day left, time bucket).
                con.executemany(UPSERT_VISIT_DAY, [
                    (plan, state, day, day, (time_us.bit_length() - 4) * 8 + (time_us >> (time_us.bit_length() - 4)),
                     1, 1, paused_us, int(pauses > 0)) for plan, state, _, time_us, paused_us, pauses in left])
                if not final:
                    con.execute("INSERT INTO state_visits (case_id, entry_seq, plan_id, state, entered_at, deadline_at,"
                                " left_at, time_us, on_time, paused_us, pauses)"
                                " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0, 0)",
                                (case_id, last_seq + 1, world.PLAN, dest, now, now))
                for name in self.deadlines_per_state.get(dest, []):
                    con.execute("INSERT INTO case_deadlines (case_id, name, started_at, started_seq, due_at)"
                                " VALUES (?, ?, ?, ?, ?)", (case_id, name, now, last_seq + 1, now))
                if not final:
                    con.executemany(
                        "INSERT INTO reminders (case_id, state, entry_seq, level, kind, due_at, status, attempts,"
                        " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
                        [(case_id, dest, last_seq + 1, level, "reminder" if level == 0 else "escalation", now, now)
                         for level in range(self.reminders_per_state.get(dest, 0))],
                    )
                con.execute(
                    "UPDATE cases SET last_seq = ?, last_hash = ?, state = ?, state_entered_at = ?, deadline = ?,"
                    " escalation_level = 0, is_open = ?, closed_at = ? WHERE id = ?",
                    (last_seq + 1, seal, dest, now, None if final else now, int(not final), now if final else None,
                     case_id),
                )
                con.execute("COMMIT")


def run(options: Options) -> list[Row]:
    from time import perf_counter

    cases_per_repeat = 10 if options.quick else 300
    repeats = 2 if options.quick else 5
    ctx = world.make_context(world.sqlite_database(options.workdir / "advance.db"))
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    walk_cases(ctx, world.open_cases(ctx, 5))  # warm up: plan parsed, machine built, statements cached
    reminders_per_state = _reminders_per_state(ctx)
    deadlines_per_state = _deadlines_per_state(ctx)

    ref_db = world.sqlite_database(options.workdir / "advance-ref.db")
    ref_ctx = world.make_context(ref_db)
    world.seed_org(ref_ctx)
    world.pin_plan(ref_ctx)
    ref_db.dispose()
    reference = Reference(world.sqlite_connect(options.workdir / "advance-ref.db"), version, reminders_per_state,
                          deadlines_per_state)

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
        detail=f"{transitions} transitions × {repeats} rounds, SQLite WAL, synchronous=NORMAL; "
               f"reminder rows per state entered: {reminders_per_state}; case deadlines started: "
               f"{deadlines_per_state or 'none'}",
    )
    row.met = row.ratio is not None and row.ratio >= GOAL
    if not row.met:
        case_ids = world.open_cases(ctx, 50)
        row.profile = profile_call(lambda: walk_cases(ctx, case_ids))
    ctx.db.dispose()
    reference.con.close()
    return [row]


def _deadlines_per_state(ctx: Context) -> dict[str, list[str]]:
    """The case deadlines indsats starts on entering each state (one row each), for the reference to match."""
    from sqlalchemy import text

    with ctx.db.connect() as conn:
        found = conn.execute(text(
            "SELECT DISTINCT e.to_state, d.name FROM case_deadlines d JOIN events e"
            " ON e.case_id = d.case_id AND e.seq = d.started_seq ORDER BY 1, 2")).all()
    by_state: dict[str, list[str]] = {}
    for state, name in found:
        by_state.setdefault(state, []).append(name)
    return by_state


def _reminders_per_state(ctx: Context) -> dict[str, int]:
    """How many reminder rows indsats writes on entering each state (per case), for the reference to match."""
    from sqlalchemy import text

    with ctx.db.connect() as conn:
        cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        counts: dict[str, Any] = dict(conn.execute(text("SELECT state, count(*) FROM reminders GROUP BY state")).all())
    return {state: round(n / cases) for state, n in counts.items()}
