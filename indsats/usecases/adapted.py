"""Use cases whose arguments travel as text and are parsed here, on the engine's side (so the thin client
parses nothing that needs the engine), or that combine engine calls into one value to render.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indsats.errors import Invalid, NotAllowed

if TYPE_CHECKING:
    from indsats.engine.cases.service import Outcome
    from indsats.engine.plans.checks import Finding
    from indsats.engine.ports import PlanText
    from indsats.usecases import Call


def advance(call: Call, *, case_id: str, trigger: str, assignments: list[str], note: str | None = None) -> Outcome:
    from indsats.engine.cases.service import advance as advance_case
    from indsats.engine.plans.fields import parse_assignments

    return advance_case(call.ctx, actor=call.actor, case_id=case_id, trigger=trigger,
                        values=parse_assignments(list(assignments)), note=note)


def stuck(call: Call, *, at: str | None = None, plan_id: str | None = None, unit: str | None = None,
          role: str | None = None, overdue_by: str | None = None, limit: int | None = None) -> Any:
    """The stuck list: streamed in this process (one page in memory), a list through the server."""
    from indsats.engine.supervision import iter_stuck
    from indsats.engine.time.clock import parse_time
    from indsats.engine.time.durations import parse_duration

    found = iter_stuck(call.ctx, actor=call.actor, at=None if at is None else parse_time(at), plan_id=plan_id,
                       unit=unit, role=role, overdue_by=None if overdue_by is None else parse_duration(overdue_by),
                       limit=limit)
    return list(found) if call.served else found


def report(call: Call, *, plan_id: str | None = None, since: str | None = None, until: str | None = None) -> Any:
    from indsats.engine.supervision import step_report

    return step_report(call.ctx, actor=call.actor, plan_id=plan_id, since=_date(since, "--since"),
                       until=_date(until, "--until"))


@dataclass(frozen=True, kw_only=True)
class PlanDetail:
    """A plan as ``plans show`` prints it: the document (``--json``) and its rows of states and triggers."""

    id: str
    title: str
    version: str
    document: dict[str, Any]
    states: list[list[str]]  # state, label, who must act, deadline, escalate after / repeat
    triggers: list[list[str]]  # trigger, from, to, who may fire, fields


def plans_show(call: Call, *, plan_id: str) -> PlanDetail:
    from indsats.engine.plans.service import get_plan
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    plan = get_plan(call.ctx, plan_id)
    return PlanDetail(
        id=plan.id, title=plan.title, version=plan.version, document=plan.model_dump(mode="json", by_alias=True),
        states=[
            [name, s.label + (" (final)" if s.final else ""), s.responsible.describe() if s.responsible else "",
             s.deadline or "", f"{s.reminder.escalate_after} / {s.reminder.repeat}" if s.reminder else ""]
            for name, s in plan.states.items()
        ],
        triggers=[
            [t.trigger, ", ".join(t.source), t.dest or "(recorded, state unchanged)",
             " or ".join(a.describe() for a in t.allowed),
             ", ".join(f"{n}{'*' if f.required else ''}" for n, f in t.fields.items())
             + (" note*" if t.note_required else "")]
            for t in plan.transitions
        ],
    )


@dataclass(frozen=True, kw_only=True)
class ValidationView:
    """What ``plans validate`` found, as values: the plan's id and version (None if it did not load)."""

    plan_id: str | None
    plan_version: str | None
    findings: list[Finding]
    users_checked: bool
    users_skipped_because: str | None


def plans_validate(call: Call, *, source: str, text: str) -> ValidationView:
    from indsats.engine.plans.service import validate
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    found = validate(call.ctx, _text(source, text))
    return ValidationView(
        plan_id=found.plan.id if found.plan else None, plan_version=found.plan.version if found.plan else None,
        findings=found.findings, users_checked=found.users_checked, users_skipped_because=found.users_skipped_because,
    )


def plans_export(call: Call, *, plan_id: str, fmt: str, draft: str | None = None) -> str:
    from indsats.engine.plans.service import export
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    return export(call.ctx, plan_id=plan_id, fmt=fmt, draft=None if draft is None else _text(plan_id, draft))


def plans_graph(call: Call, *, plan_id: str, fmt: str, draft: str | None = None) -> str:
    from indsats.engine.plans.service import draw
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    return draw(call.ctx, plan_id=plan_id, fmt=fmt, draft=None if draft is None else _text(plan_id, draft))


@dataclass(frozen=True, kw_only=True)
class Swept:
    """What one sweep did, and the notifier it went through."""

    result: Any  # SweepResult
    via: str
    seconds: float  # how long the sweep took


def verify(call: Call, *, seals: str | None = None) -> Any:
    """Replay every chain and check the log against the latest seal (or the copy of the seal file ``seals``)."""
    from indsats.adapters.seal_file import SealFile
    from indsats.engine.log.verify import verify as verify_all
    from indsats.usecases import require_registered

    if call.served:
        require_registered(call.ctx, call.actor)
        if seals is not None:
            raise Invalid("verify --seals reads a file: run it directly on the database, as the server's service user")
    report = verify_all(call.ctx, seal_file=SealFile(Path(seals)) if seals else None)
    if not call.served and report.ok:
        # Directly on the file (whose owner could do anything anyway) a broken log is reported even when the
        # actor no longer verifies: an emptied users table is what verify is for.
        require_registered(call.ctx, call.actor)
    return report


def remind(call: Call, *, at: str | None = None, dry_run: bool = False, worker: str = "") -> Swept:
    """One sweep, for admins. Through a server its clock is the only clock: a sweep as of a later time
    would send every escalation early (and so silence them), so only a dry run may look ahead."""
    from datetime import timedelta

    from indsats.bootstrap import build_notifier
    from indsats.engine.org.users import require_admin
    from indsats.engine.reminders.sweep import sweep

    ctx = call.at(at)
    with ctx.db.unit_of_work() as uow:
        require_admin(uow.repo, call.actor)
    if call.served and at is not None and not dry_run and ctx.clock.now() > call.ctx.clock.now():
        raise Invalid("through a server, remind --at may look ahead only with --dry-run: the server's clock "
                      "decides when reminders are due")
    notifier = build_notifier(call.settings)
    started = time.perf_counter()
    result = sweep(ctx, notifier, worker=worker or "remind", mail_from=call.settings.mail_from, dry_run=dry_run,
                   lease=timedelta(seconds=call.settings.lease_seconds))
    seconds = time.perf_counter() - started
    if not dry_run:
        from indsats.jobs import beat

        beat(call.settings, ctx, worker or "remind", result)  # the heartbeat `indsats health` reads
    return Swept(result=result, via=notifier.describe(), seconds=seconds)


@dataclass(frozen=True, kw_only=True)
class Due:
    """When a deadline of ``duration`` from ``start`` falls."""

    start: datetime
    duration: str
    due: datetime
    at_closing: bool  # the deadline falls at the closing of its last day


def calendar_due(call: Call, *, start: str, duration: str, statutory: bool = False) -> Due:
    from indsats.engine.time.clock import parse_time
    from indsats.engine.time.durations import parse_duration
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    begin = parse_time(start)
    span = parse_duration(duration)
    cal = call.ctx.calendar
    due = cal.add(begin, span, statutory=statutory)
    return Due(start=begin, duration=str(span), due=due, at_closing=(cal.legal if statutory else cal).is_closing(due))


def calendar_closed(call: Call, *, year: int) -> Any:
    from datetime import MAXYEAR, MINYEAR

    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    if not MINYEAR <= year <= MAXYEAR:
        raise Invalid(f"no year {year} in the calendar: give a year from {MINYEAR} to {MAXYEAR}, e.g. 2026")
    return call.ctx.calendar.closed_days(year)


def archive_export(call: Call, *, path: str, before: str | None = None) -> Any:
    from indsats.engine.privacy.retention import archive_export as export

    return export(call.ctx, actor=call.actor, path=Path(path), before=_date(before, "--before"))


def subject_export(call: Call, *, subject_ref: str, path: str, with_names: bool = False) -> Any:
    from indsats.engine.privacy.subjects import export_subject

    return export_subject(call.ctx, actor=call.actor, subject_ref=subject_ref, path=Path(path), with_names=with_names)


def backup(call: Call, *, target: str) -> Any:
    from indsats.engine.backup import backup_database

    if call.served:
        raise NotAllowed("backup runs directly on the database, as the server's service user")
    return backup_database(call.ctx, actor=call.actor, target=Path(target))


def _text(source: str, text: str) -> PlanText:
    from indsats.engine.ports import PlanText

    return PlanText(source=source, text=text)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"bad date '{text}' for {option}: use YYYY-MM-DD, e.g. 2026-03-02") from None
