"""Worlds a test module builds once (``scope="module"``): a context on a database of its own, with a fresh key, an
admin ``adm`` and an organisation; and cases walked through the radicalisation plan at planned moments, in time
order, with sweeps between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from conftest import add_users, register_admin
from fakes import RecordingNotifier
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.cases.pause import pause_case, resume_case
from indsats.engine.cases.service import advance, open_case
from indsats.engine.context import Context
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.privacy.crypto import Keyring, new_key
from indsats.engine.reminders.sweep import sweep
from indsats.engine.time.calendar import WorkingCalendar
from indsats.engine.time.clock import FixedClock
from indsats.storage.database import Database

PLAN = "radikalisering"
# The walks' organisation: login → (role, reports_to), leaders first.
ORGANISATION: dict[str, tuple[str, str | None]] = {
    "sol": ("socialchef", None), "lea": ("leder", "sol"), "emil": ("medarbejder", "lea"),
    "fie": ("fagspecialist", "sol"), "sup": ("supervisor", None),
}
# How a case is moved on from each state of the walk: state → (trigger, who, values).
FIRE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "suspected": ("notify_leader", "emil", {}),
    "leader_notified": ("notify_specialist", "lea", {}),
    "specialist_notified": ("assess", "fie", {"summary": "vurderet"}),
    "assessed": ("decide", "lea", {"police_report": "no", "rationale": "ingen grund", "follow_up": "outreach"}),
}
WALK = tuple(FIRE)


def world_context(db: Database, clock: FixedClock, organisation: dict[str, tuple[str, str | None]]) -> Context:
    """A context on ``db`` (migrated) at ``clock``, with a key of its own: ``adm`` registered first, then
    ``organisation`` (login → (role, reports_to))."""
    ctx = Context(db=db, clock=clock, catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
                  keys=Keyring.fixed(new_key()))
    register_admin(ctx, "adm")
    add_users(ctx, organisation, actor="adm")
    return ctx


def play(ctx: Context, clock: FixedClock, actions: Iterable[tuple[datetime, int, str]], *, swept: datetime,
         sweep_every: timedelta, moment: Callable[[datetime], datetime] = lambda at: at) -> None:
    """Each of ``actions`` (time, case number, what: ``open`` by emil, ``pause`` and ``resume`` by sup, or
    ``advance:N``, the walk's N-th step) done in time order, the clock set to ``moment(time)`` (the same instant,
    as a zone may write it); before an action, a sweep at each ``sweep_every`` after ``swept`` that has come."""
    ids: dict[int, str] = {}
    for at, i, what in sorted(actions):
        while swept + sweep_every <= at:
            swept += sweep_every
            clock.set(moment(swept))
            sweep(ctx, RecordingNotifier(), worker="test")
        clock.set(moment(at))
        if what == "open":
            ids[i] = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}").case_id
        elif what == "pause":
            pause_case(ctx, actor="sup", case_id=ids[i], reason="venter")
        elif what == "resume":
            resume_case(ctx, actor="sup", case_id=ids[i])
        else:
            trigger, actor, values = FIRE[WALK[int(what.split(":")[1])]]
            advance(ctx, actor=actor, case_id=ids[i], trigger=trigger, values=dict(values))
