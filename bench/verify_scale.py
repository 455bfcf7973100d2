"""``indsats verify`` at scale: peak RSS and time of the whole process at 100,000 and 1,000,000 cases (it reads in
pages: memory must not grow with the log, and time must grow with the events, not faster).

The world: a hundred cases made through the service layer (opened, walked on, a note, reminders), then copied
into many with new ids, each copy's chain recomputed (the hash covers the case id), so every chain, projection and
reminder row checks out and verify has the whole log to read. The key is handed to verify, so it opens payloads.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import world
from bench.harness import Options, Row, child_env
from bench.supervisors import measure

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
    """Make the template's cases ``n`` cases (in place); return how many events there are."""
    from indsats.engine.log.events import GENESIS, EventKind, chain_hash

    con = world.sqlite_connect(path)
    con.row_factory = sqlite3.Row
    cases = [dict(r) for r in con.execute("SELECT * FROM cases ORDER BY id")]
    events = [dict(r) for r in con.execute("SELECT * FROM events ORDER BY case_id, seq")]
    tables = {t: [dict(r) for r in con.execute(f"SELECT * FROM {t}")]  # noqa: S608 (our own table names)
              for t in ("reminders", "case_deadlines", "state_visits")}
    prefix = cases[0]["id"].rsplit("-", 1)[0]
    by_case: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        e.pop("id")
        by_case.setdefault(e["case_id"], []).append(e)
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {t: {} for t in tables}
    for t, rows in tables.items():
        for r in rows:
            r.pop("id", None)
            grouped[t].setdefault(r["case_id"], []).append(r)
    con.execute("BEGIN IMMEDIATE")
    for t in ("reminders", "case_deadlines", "state_visits", "events", "cases"):
        con.execute(f"DELETE FROM {t}")  # noqa: S608
    total = 0
    batch: dict[str, list[dict[str, Any]]] = {t: [] for t in ("cases", "events", *tables)}

    def flush() -> None:
        for t, rows in batch.items():
            if rows:
                columns = list(rows[0])
                con.executemany(f"INSERT INTO {t} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                [[r[c] for c in columns] for r in rows])
                rows.clear()

    def aware(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    for number in range(1, n + 1):
        source = cases[(number - 1) % len(cases)]
        case_id = f"{prefix}-{number:04d}"
        prev = GENESIS
        for e in by_case[source["id"]]:
            header = SimpleNamespace(case_id=case_id, kind=EventKind(e["kind"]), at=aware(e["at"]), actor=e["actor"],
                                     trigger=e["trigger"], from_state=e["from_state"], to_state=e["to_state"])
            digest = e["payload_digest"]
            batch["events"].append({**e, "case_id": case_id, "prev_hash": prev,
                                    "hash": (prev := chain_hash(prev, e["seq"], header, digest))})  # type: ignore[arg-type]
            total += 1
        batch["cases"].append({**source, "id": case_id, "last_hash": prev})
        for t, mine in grouped.items():
            batch[t].extend({**r, "case_id": case_id} for r in mine.get(source["id"], ()))
        if number % 5000 == 0:
            flush()
    flush()
    year = prefix.rsplit("-", 1)[1]
    con.execute("UPDATE case_counters SET last_number = ? WHERE year = ?", (n, int(year)))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    return total


def run(options: Options) -> list[Row]:
    small, big = (200, 1_000) if options.quick else (100_000, 1_000_000)
    key_file = options.workdir / "verify.key"
    key_file.write_bytes(world.BENCH_KEY + b"\n")
    key_file.chmod(0o600)
    figures: dict[int, tuple[float, float, int]] = {}
    made = options.workdir / "verify-template.db"
    template(made, 20 if options.quick else TEMPLATE)
    for n in (small, big):
        path = options.workdir / f"verify-{n}.db"
        shutil.copyfile(made, path)
        events = copy(path, n)
        env = child_env(INDSATS_USER="admin", INDSATS_DATABASE_URL=f"sqlite:///{path}", INDSATS_CONFIG="",
                        INDSATS_DATA_DIR=str(options.workdir / "data"), INDSATS_KEY_FILE=str(key_file))
        seconds, mb = measure([sys.executable, "-m", "indsats", "verify"], env)
        figures[n] = (seconds, mb, events)
        print(f"  verify {n:,}: {seconds:.1f} s, {mb:.0f} MB, {events:,} events", file=sys.stderr, flush=True)
        path.unlink()
    made.unlink()
    (s1, m1, e1), (s2, m2, e2) = figures[small], figures[big]
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
                   "one run each, 2 shared cores: noisy"),
    ]
