"""``indsats verify`` at scale: peak RSS and time of the whole process at 100,000 and 1,000,000 cases (it reads in
pages: memory must not grow with the log, and time must grow with the events, not faster).

The world: a hundred cases made through the service layer (opened, walked on, a note, reminders), then copied
into many with new ids, each copy's chain recomputed (the hash covers the case id), so every chain, projection and
reminder row checks out and verify has the whole log to read. The key is handed to verify, so it opens payloads.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import world
from bench.harness import Options, Row, child_env, measure_process, world_file

NAME = "verify"
GOAL_MB = 200.0
TEMPLATE = 100


def template(path: Path, count: int = TEMPLATE) -> None:
    """``count`` cases through the service layer, walked 0–4 transitions on, on a working week's clock."""
    from indsats.engine.cases.service import add_note, advance

    ctx = world.make_context(world.sqlite_database(path))
    world.seed_org(ctx)
    clock: Any = ctx.clock
    ids = world.open_cases(ctx, count)
    for i, case_id in enumerate(ids):
        for actor, trigger, fields in world.WALK[: i % 5]:
            clock.set(clock.now() + timedelta(minutes=7))
            advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=dict(fields))
        if i % 3 == 0:
            add_note(ctx, actor="emil", case_id=case_id, text="Samtale aftalt")
    ctx.db.dispose()


def copy(path: Path, n: int) -> int:
    """Make the template's cases ``n`` cases (in place); return how many events there are.

    Fast enough for a million cases (minutes, not the hour the per-event ``chain_hash`` took): each template
    event's hash line is written once, with markers where the previous hash and the case id go
    (``canonical_json`` writes both as they are: ASCII with nothing to escape), so a copy's chain is one
    ``sha256`` per event; rows go in as tuples, ``executemany`` per table and batch.
    """
    from indsats.engine.log.canonical import canonical_json
    from indsats.engine.log.events import GENESIS

    con = world.sqlite_connect(path)
    con.execute("PRAGMA cache_size = -200000")
    cases = _rows(con, "SELECT * FROM cases ORDER BY id")
    events = _rows(con, "SELECT * FROM events ORDER BY case_id, seq")
    tables = {t: _rows(con, f"SELECT * FROM {t} ORDER BY rowid") for t in COPIED}  # noqa: S608 (our own table names)
    case_columns, case_rows = cases
    id_at, hash_at = case_columns.index("id"), case_columns.index("last_hash")
    prefix = case_rows[0][id_at].rsplit("-", 1)[0]
    # Per template case: its events (the values without the id, the hash line split at the markers).
    event_columns, event_rows = events
    keep = [i for i, c in enumerate(event_columns) if c != "id"]
    ev_names = [event_columns[i] for i in keep]
    ev_case, ev_prev, ev_hash = (ev_names.index(c) for c in ("case_id", "prev_hash", "hash"))
    by_case: dict[str, list[tuple[list[Any], list[str]]]] = {}
    for values in event_rows:
        row = dict(zip(event_columns, values, strict=True))
        # chain_hash's line (events.py), with the markers; checked against the template's own hash.
        line = canonical_json([_PREV, _CASE, row["seq"], row["kind"], _aware(row["at"]).isoformat(), row["actor"],
                               row["trigger"], row["from_state"], row["to_state"], row["payload_digest"]])
        head, rest = line.split(_PREV)
        parts = [head, *rest.split(_CASE)]
        if len(parts) != 3 or _hash(parts, row["prev_hash"], row["case_id"]) != row["hash"]:
            raise AssertionError(f"the chain's hash line changed: update bench/verify_scale.py ({row['case_id']})")
        by_case.setdefault(row["case_id"], []).append(([values[i] for i in keep], parts))
    grouped: dict[str, tuple[list[str], dict[str, list[list[Any]]]]] = {}
    for t, (columns, rows) in tables.items():
        kept = [i for i, c in enumerate(columns) if c != "id"]
        at = [columns[i] for i in kept].index("case_id")
        mine: dict[str, list[list[Any]]] = {}
        for stored in rows:
            kept_values = [stored[i] for i in kept]
            mine.setdefault(kept_values[at], []).append(kept_values)
        grouped[t] = ([columns[i] for i in kept], mine)
    con.execute("BEGIN IMMEDIATE")
    for t in (*reversed(COPIED), "events", "cases"):
        con.execute(f"DELETE FROM {t}")  # noqa: S608
    # The secondary indexes are built once at the end (faster than kept up row by row in random order).
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
        f"({', '.join('?' * (len(COPIED) + 2))})", ("cases", "events", *COPIED)).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    total = 0
    batch: dict[str, list[Any]] = {t: [] for t in ("cases", "events", *COPIED)}
    sql = {"cases": _insert("cases", case_columns), "events": _insert("events", ev_names)}
    sql.update({t: _insert(t, columns) for t, (columns, _) in grouped.items()})
    sha256 = hashlib.sha256

    def flush() -> None:
        for t in ("cases", "events", *COPIED):
            if batch[t]:
                con.executemany(sql[t], batch[t])
                batch[t].clear()

    sources = [(values[id_at], values) for values in case_rows]
    case_at = {t: columns.index("case_id") for t, (columns, _) in grouped.items()}
    for number in range(1, n + 1):
        source_id, source = sources[(number - 1) % len(sources)]
        case_id = f"{prefix}-{number:04d}"
        prev = GENESIS
        for template_values, (head, middle, tail) in by_case[source_id]:
            event = list(template_values)
            event[ev_case], event[ev_prev] = case_id, prev
            prev = event[ev_hash] = sha256(f"{head}{prev}{middle}{case_id}{tail}".encode()).hexdigest()
            batch["events"].append(event)
            total += 1
        case = list(source)
        case[id_at], case[hash_at] = case_id, prev
        batch["cases"].append(case)
        for t, (_, mine) in grouped.items():
            at = case_at[t]
            for kept_values in mine.get(source_id, ()):
                copied = list(kept_values)
                copied[at] = case_id
                batch[t].append(copied)
        if number % 20000 == 0:
            flush()
    flush()
    # The step report's day rows add up every case's visits and escalations: fill them in again for the copies.
    from indsats.storage.visit_days import fill_in

    con.execute("DELETE FROM visit_days")
    con.execute("DELETE FROM escalation_days")
    fill_in(con.execute, con.executemany)
    for _, create in indexes:
        con.execute(create)
    year = prefix.rsplit("-", 1)[1]
    con.execute("UPDATE case_counters SET last_number = ? WHERE year = ?", (n, int(year)))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    return total


COPIED = ("reminders", "case_deadlines", "state_visits")
# Markers where a copy's previous hash and case id go in a template event's hash line.
_PREV, _CASE = "@@PREV@@", "@@CASE@@"


def _rows(con: sqlite3.Connection, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = con.execute(query)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _hash(parts: list[str], prev: str, case_id: str) -> str:
    return hashlib.sha256(f"{parts[0]}{prev}{parts[1]}{case_id}{parts[2]}".encode()).hexdigest()


def _insert(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _aware(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def run(options: Options) -> list[Row]:
    small, big = (200, 1_000) if options.quick else (100_000, 1_000_000)
    key_file = options.workdir / "verify.key"
    key_file.write_bytes(world.BENCH_KEY + b"\n")
    key_file.chmod(0o600)
    figures: dict[int, tuple[float, float, float, int]] = {}
    size = 20 if options.quick else TEMPLATE
    made = options.workdir / "verify-template.db"

    def build(path: Path, n: int) -> None:
        if not made.exists():
            template(made, size)
        shutil.copyfile(made, path)
        copy(path, n)

    for n in (small, big):
        # $INDSATS_BENCH_WORLDS keeps the world between runs (verify only reads it); unset: built here.
        with world_file(f"verify-{size}x{n}", functools.partial(build, n=n), builders=_builders(),
                        workdir=options.workdir) as (path, _kept):
            events = world.count_rows(path, "events")
            env = child_env(INDSATS_USER="admin", INDSATS_DATABASE_URL=f"sqlite:///{path}", INDSATS_CONFIG="",
                            INDSATS_DATA_DIR=str(options.workdir / "data"), INDSATS_KEY_FILE=str(key_file))
            seconds, cpu, mb = measure_process([sys.executable, "-m", "indsats", "verify"], env)
        figures[n] = (seconds, cpu, mb, events)
        print(f"  verify {n:,}: {seconds:.1f} s ({cpu:.1f} s CPU), {mb:.0f} MB, {events:,} events", file=sys.stderr,
              flush=True)
    made.unlink(missing_ok=True)
    (s1, c1, m1, e1), (s2, c2, m2, e2) = figures[small], figures[big]
    per_small, per_big = s1 / e1 * 1e6, s2 / e2 * 1e6
    return [
        Row(name="verify, peak RSS", measure="MB", indsats=m2, reference=m1,
            reference_name=f"the same at {small:,} cases", goal=f"≤ {GOAL_MB:.0f} MB", met=m2 <= GOAL_MB,
            detail=f"ru_maxrss of `indsats verify` (every chain, projection and reminder row, payloads opened) over "
                   f"{big:,} cases / {e2:,} events, against {small:,} / {e1:,}"),
        Row(name="verify, time per event", measure="µs/event", indsats=per_big, reference=per_small,
            reference_name=f"at {small:,} cases", goal="≤ 1.3× the smaller run (linear in events)",
            met=per_big <= 1.3 * per_small,
            detail=f"whole-process wall time ÷ events: {s2:.0f} s for {e2:,} events against {s1:.1f} s for {e1:,}; "
                   f"CPU (user + system) {c2 / e2 * 1e6:.0f} against {c1 / e1 * 1e6:.0f} µs/event, what the neighbours' "
                   "load moves least; one run each, 2 shared cores: noisy"),
    ]




# What a kept world depends on (its name carries their fingerprint): this builder, the bench's world, and the
# engine code that wrote the template's rows (chains, reminders, the plan's decisions).
def _builders() -> tuple[ModuleType, ...]:
    import bench.verify_scale
    import indsats.engine.cases.service
    import indsats.engine.log.events
    import indsats.engine.log.journal

    return bench.verify_scale, world, indsats.engine.cases.service, indsats.engine.log.events, indsats.engine.log.journal
