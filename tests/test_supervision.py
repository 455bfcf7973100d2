"""The supervisor's view: ``stuck`` and ``report`` against a world of ~200 cases the test keeps its own record of.

The world is built once per module through the service layer, on a SQLite file, with a clock the test
moves: cases opened over a week, each walked a random number of states on with random delays, then one
sweep twenty days later in which every message to ``leo`` is refused. The expected figures come from
the test's own record of what it did, not from the event log or the projection.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indsats.engine.time.calendar import WorkingCalendar
from indsats.engine.cases.service import advance, open_case
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.engine.context import Context
from indsats.engine.privacy.crypto import Keyring, new_key
from indsats.engine.time.durations import parse_duration
from indsats.engine.supervision import StuckReason, step_report, stuck_cases
from indsats.engine.reminders.sweep import sweep
from indsats.engine.org.users import add_user, register_first_admin
from indsats.errors import NotAllowed
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from tests.fakes import RecordingNotifier

PLAN = "radikalisering"
# Monday 3 March 2025, 08:00 in Copenhagen; the sweep and "now" are twenty days later.
START = datetime(2025, 3, 3, 8, 0, tzinfo=LOCAL_TZ)
NOW = START + timedelta(days=20, hours=3)
CASES = 200
WALK = ("suspected", "leader_notified", "specialist_notified", "assessed", "decided")
DEADLINES = {  # the plan's rules, restated here so the test does not read them back from the engine
    "suspected": "4 working hours",
    "leader_notified": "1 working day",
    "specialist_notified": "5 working days",
    "assessed": "2 working days",
}
# login → (role, reports_to, unit)
ORGANISATION: dict[str, tuple[str, str | None, str | None]] = {
    "sol": ("socialchef", None, None),
    "lea": ("leder", "sol", "north"),
    "leo": ("leder", "sol", "south"),
    "emil": ("medarbejder", "lea", "north"),
    "ida": ("medarbejder", "leo", "south"),
    "fie": ("fagspecialist", None, None),
    "sup": ("supervisor", None, None),
}
FIRE = {  # trigger leaving each state, who fires it (None: the opener, "leader": the opener's leader)
    "suspected": ("notify_leader", None, {}),
    "leader_notified": ("notify_specialist", "leader", {}),
    "specialist_notified": ("assess", "fie", {"summary": "vurderet"}),
    "assessed": ("decide", "leader", {"police_report": "no", "rationale": "ingen grund", "follow_up": "outreach"}),
}
DELAYS = (timedelta(minutes=20), timedelta(hours=2), timedelta(hours=5), timedelta(days=1), timedelta(days=3))


@dataclass(kw_only=True)
class Visit:
    case_id: str
    state: str
    entered: datetime
    left: datetime | None = None


@dataclass(kw_only=True)
class World:
    ctx: Context
    url: str
    tmp: Path
    visits: list[Visit] = field(default_factory=list)
    openers: dict[str, str] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)  # state → escalations delivered
    failed_cases: set[str] = field(default_factory=set)

    def deadline(self, visit: Visit) -> datetime:
        return self.ctx.calendar.add(visit.entered, parse_duration(DEADLINES[visit.state]))

    def open_visits(self) -> list[Visit]:
        return [v for v in self.visits if v.left is None and v.state != "decided"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("supervision")
    url = f"sqlite:///{tmp}/world.db"
    db = Database(url)
    upgrade(db)
    clock = FixedClock(START - timedelta(days=1))
    ctx = Context(db=db, clock=clock, catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(), keys=Keyring.fixed(new_key()))
    with db.unit_of_work(write=True) as uow:
        register_first_admin(uow.repo, "adm", clock.now())
        uow.commit()
    for login, (role, leader, unit) in ORGANISATION.items():
        add_user(ctx, actor="adm", login=login, name=login.title(), role=role, email=f"{login}@example.org",
                 reports_to=leader, unit=unit)
    w = World(ctx=ctx, url=url, tmp=tmp)
    rng = random.Random(2025)
    for i in range(CASES):
        opener = "emil" if i % 2 else "ida"
        at = START + timedelta(minutes=41 * i)
        clock.set(at)
        case_id = open_case(ctx, actor=opener, plan_id=PLAN, subject_ref=f"CPR-REF-{i}").case_id
        w.openers[case_id] = opener
        w.visits.append(Visit(case_id=case_id, state="suspected", entered=at))
        for state in WALK[: rng.randint(0, 4)]:
            trigger, who, values = FIRE[state]
            actor = opener if who is None else ORGANISATION[opener][1] if who == "leader" else who
            at = at + rng.choice(DELAYS)
            clock.set(at)
            advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=dict(values))
            w.visits[-1].left = at
            nxt = WALK[WALK.index(state) + 1]
            w.visits.append(Visit(case_id=case_id, state=nxt, entered=at, left=None))
    clock.set(NOW)
    notifier = RecordingNotifier(refuse={"leo@example.org"})
    result = sweep(ctx, notifier, worker="test")
    for d in result.deliveries:
        if d.ok and d.kind == "escalation":
            w.escalations[d.state] = w.escalations.get(d.state, 0) + 1
        if not d.ok:
            w.failed_cases.add(d.case_id)
    return w


# -- stuck -------------------------------------------------------------------------------------------


def expected_stuck(w: World, *, at: datetime = NOW) -> list[tuple[str, timedelta]]:
    late = []
    for v in w.open_visits():
        deadline = w.deadline(v)
        if deadline < at:
            late.append((v.case_id, w.ctx.calendar.working_time_between(deadline, at), deadline))
    late.sort(key=lambda x: (-x[1], x[2], x[0]))
    return [(case_id, overdue) for case_id, overdue, _ in late]


def test_stuck_lists_every_overdue_open_case_most_overdue_first(world: World) -> None:
    found = stuck_cases(world.ctx, actor="sup")
    overdue = [s for s in found if s.reason is StuckReason.overdue]
    expected = expected_stuck(world)
    assert len(expected) > 20
    assert [(s.case_id, s.overdue_by) for s in overdue] == expected
    amounts = [s.overdue_by for s in overdue]
    assert amounts == sorted(amounts, reverse=True)
    assert found[: len(overdue)] == overdue  # overdue cases come before those only failing delivery


def test_stuck_names_who_must_act_and_what_the_sweep_did(world: World) -> None:
    found = {s.case_id: s for s in stuck_cases(world.ctx, actor="sup")}
    for visit in world.open_visits():
        s = found.get(visit.case_id)
        if s is None:
            continue
        opener = world.openers[visit.case_id]
        assert s.state == visit.state
        assert s.deadline == world.deadline(visit)
        who = {"suspected": [opener], "leader_notified": [ORGANISATION[opener][1]],
               "specialist_notified": ["fie"], "assessed": [ORGANISATION[opener][1]]}[visit.state]
        assert [p.login for p in s.must_act] == who
        assert s.reminders_sent >= 1 or s.failed_reminders > 0  # the sweep reached or tried everyone overdue
        assert (s.failed_reminders > 0) == (visit.case_id in world.failed_cases)


def test_stuck_filters_by_unit_role_plan_overdue_by_and_limit(world: World) -> None:
    everything = stuck_cases(world.ctx, actor="sup")
    south = stuck_cases(world.ctx, actor="sup", unit="south")
    assert south and {world.openers[s.case_id] for s in south} == {"ida"}
    assert [s.case_id for s in south] == [s.case_id for s in everything if s.unit == "south"]
    specialists = stuck_cases(world.ctx, actor="sup", role="fagspecialist")
    assert specialists and {s.state for s in specialists} == {"specialist_notified"}
    assert stuck_cases(world.ctx, actor="sup", plan_id="no-such-plan") == []
    three_days = parse_duration("3 working days")
    long_overdue = stuck_cases(world.ctx, actor="sup", overdue_by=three_days)
    # Decided cases whose leader's leader never recorded inform_socialchef are stuck on that case deadline.
    assert {s.reason for s in long_overdue} == {StuckReason.overdue, StuckReason.case_deadline}
    assert [s.case_id for s in long_overdue if s.reason is StuckReason.overdue] == [
        case_id for case_id, _ in expected_stuck(world)
        if world.ctx.calendar.add(_deadline_of(world, case_id), three_days) <= NOW
    ]
    assert stuck_cases(world.ctx, actor="sup", limit=5) == everything[:5]


def test_stuck_read_in_small_pages_lists_the_same_cases_in_the_same_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indsats.engine.supervision import stuck

    everything = stuck_cases(world.ctx, actor="sup")
    monkeypatch.setattr(stuck, "_BATCH", 7)  # ~110 overdue cases: sixteen pages, ties on a deadline across pages
    assert stuck_cases(world.ctx, actor="sup") == everything
    assert stuck_cases(world.ctx, actor="sup", limit=30) == everything[:30]
    assert stuck_cases(world.ctx, actor="sup", unit="south") == [s for s in everything if s.unit == "south"]


def test_stuck_as_of_an_earlier_time_counts_from_then(world: World) -> None:
    earlier = START + timedelta(days=2, hours=3)
    found = stuck_cases(world.ctx, actor="sup", at=earlier, limit=10)
    assert all(s.deadline is not None and s.deadline < earlier for s in found)


def test_a_leader_sees_only_stuck_cases_in_their_own_chain(world: World) -> None:
    mine = stuck_cases(world.ctx, actor="lea")
    assert mine and {world.openers[s.case_id] for s in mine} == {"emil"}


def test_an_employee_cannot_list_stuck_cases(world: World) -> None:
    with pytest.raises(NotAllowed):
        stuck_cases(world.ctx, actor="emil")


def _deadline_of(w: World, case_id: str) -> datetime:
    return next(w.deadline(v) for v in w.open_visits() if v.case_id == case_id)


# -- report ------------------------------------------------------------------------------------------


def expected_report(w: World) -> dict[str, dict[str, Any]]:
    figures = {}
    for state in DEADLINES:
        visits = [v for v in w.visits if v.state == state]
        passed = [v for v in visits if v.left is not None]
        durations = sorted(
            w.ctx.calendar.working_time_between(v.entered, v.left) for v in passed  # type: ignore[arg-type]
        )
        on_time = sum(1 for v in passed if v.left <= w.deadline(v))  # type: ignore[operator]
        still_late = sum(1 for v in visits if v.left is None and w.deadline(v) < NOW)
        figures[state] = {
            "passed": len(passed),
            "median": statistics.median(durations) if durations else None,
            "p90": durations[math.ceil(0.9 * len(durations)) - 1] if durations else None,
            "on_time": on_time,
            "breaches": len(passed) - on_time + still_late,
            "escalations": w.escalations.get(state, 0),
            "open_now": sum(1 for v in visits if v.left is None),
        }
    return figures


def test_report_figures_match_what_the_test_did(world: World) -> None:
    report = step_report(world.ctx, actor="sup", plan_id=PLAN)
    (plan,) = report.plans
    got = {
        s.state: {"passed": s.passed, "median": s.median, "p90": s.p90, "on_time": s.on_time, "breaches": s.breaches,
                  "escalations": s.escalations, "open_now": s.open_now}
        for s in plan.states
    }
    assert got == expected_report(world)
    assert sum(world.escalations.values()) > 0
    assert all(s.on_time_share is None or 0 <= s.on_time_share <= 1 for s in plan.states)


def test_report_window_leaves_out_visits_outside_it(world: World) -> None:
    from datetime import date

    first_day = step_report(world.ctx, actor="sup", plan_id=PLAN, since=date(2025, 3, 3), until=date(2025, 3, 3))
    end = datetime(2025, 3, 4, tzinfo=LOCAL_TZ)
    expected = sum(1 for v in world.visits if v.state == "suspected" and v.left is not None and v.left < end)
    assert first_day.plans[0].states[0].passed == expected


def test_only_supervisors_and_admins_read_the_report(world: World) -> None:
    for login in ("lea", "fie", "sol"):
        with pytest.raises(NotAllowed):
            step_report(world.ctx, actor=login)
    assert step_report(world.ctx, actor="adm").plans


# -- the command line --------------------------------------------------------------------------------


def run(world: World, args: list[str], *, user: str = "sup") -> Any:
    from indsats.cli import main

    env = {"INDSATS_USER": user, "INDSATS_DATABASE_URL": world.url, "INDSATS_CONFIG": "",
           "INDSATS_DATA_DIR": str(world.tmp / "data"), "INDSATS_PLANS_DIR": None, "INDSATS_DEBUG": None}
    return CliRunner().invoke(main, args, env=env)


def test_stuck_json_and_csv_parse_and_agree(world: World) -> None:
    at = ["--at", NOW.isoformat(), "--all"]
    as_json = run(world, ["stuck", *at, "--json"])
    assert as_json.exit_code == 0, as_json.output
    items = json.loads(as_json.output)
    as_csv = run(world, ["stuck", *at, "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    expected = [case_id for case_id, _ in expected_stuck(world)]
    assert [i["case_id"] for i in items][: len(expected)] == expected
    assert [r["case"] for r in rows] == [i["case_id"] for i in items]
    piped = run(world, ["stuck", *at])
    assert piped.exit_code == 0
    assert [line.split("\t")[0] for line in piped.output.splitlines()[1:]] == [i["case_id"] for i in items]
    assert json.loads(run(world, ["stuck", "--at", NOW.isoformat(), "--plan", "no-such-plan", "--json"]).output) == []


def test_stuck_shows_the_first_50_unless_told_a_limit_or_all(world: World) -> None:
    at = ["--at", NOW.isoformat()]
    expected = [case_id for case_id, _ in expected_stuck(world)]
    assert len(expected) > 50
    first = json.loads(run(world, ["stuck", *at, "--json"]).output)
    assert [i["case_id"] for i in first] == expected[:50]
    seven = list(csv.DictReader(io.StringIO(run(world, ["stuck", *at, "--limit", "7", "--csv"]).output)))
    assert [r["case"] for r in seven] == expected[:7]
    piped = run(world, ["stuck", *at, "--limit", "3"]).output.splitlines()
    assert [line.split("\t")[0] for line in piped] == ["case", *expected[:3]]
    assert len(json.loads(run(world, ["stuck", *at, "--all", "--json"]).output)) > 50
    assert run(world, ["stuck", *at, "--limit", "0"]).exit_code == 2


def test_stuck_rejects_a_bad_duration_and_a_bad_time(world: World) -> None:
    assert run(world, ["stuck", "--overdue-by", "soon"]).exit_code == 5
    assert run(world, ["stuck", "--at", "yesterday"]).exit_code == 5
    assert run(world, ["stuck"], user="emil").exit_code == 4


def test_report_json_parses_and_html_is_self_contained(world: World, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    window = ["--since", "2025-03-01", "--until", "2025-03-23"]
    result = run(world, ["report", "--plan", PLAN, *window, "--json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    passed = {s["state"]: s["passed"] for s in data["plans"][0]["states"]}
    assert passed == {state: f["passed"] for state, f in expected_report(world).items()}
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and "http://" not in html and "https://" not in html
    assert "<script" not in html
    first_stuck = expected_stuck(world)[0][0]
    assert first_stuck in html
    assert run(world, ["report", *window]).exit_code == 0


def test_report_rejects_a_bad_date(world: World) -> None:
    assert run(world, ["report", "--since", "March"]).exit_code == 5
    assert run(world, ["report"], user="lea").exit_code == 4


def test_overdue_query_uses_the_open_deadline_index(world: World) -> None:
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    engine = world.ctx.db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with world.ctx.db.unit_of_work() as uow:
            first = uow.repo.overdue_cases(at=NOW, limit=10)
            last = first[-1]
            assert last.deadline is not None
            uow.repo.overdue_cases(at=NOW, limit=10, after=(last.deadline, last.id))  # the next page
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    pages = [(s, p) for s, p in seen if "FROM cases" in s]
    assert len(pages) == 2
    for statement, parameters in pages:
        with world.ctx.db.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_cases_open_deadline" in plan
        # A range search of the index, in deadline order: no scan of cases, no sort of all the rows found
        # (SQLite may still order ties on the same deadline by id: "TEMP B-TREE FOR RIGHT PART OF ORDER BY"),
        # and on a later page no second search of the index merged and sorted ("MULTI-INDEX OR").
        assert "SCAN cases" not in plan
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan
        assert "MULTI-INDEX OR" not in plan
