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
from indsats.i18n import N_, _

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
    """The stuck list, one case at a time as it is read (one page in memory), here and through the server."""
    from indsats.engine.supervision import iter_stuck
    from indsats.engine.time.clock import parse_time
    from indsats.engine.time.durations import parse_duration

    found = iter_stuck(call.ctx, actor=call.actor, at=None if at is None else parse_time(at), plan_id=plan_id,
                       unit=unit, role=role, overdue_by=None if overdue_by is None else parse_duration(overdue_by),
                       limit=limit)
    return found


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

    from indsats.engine.plans.wording import duration_text

    require_registered(call.ctx, call.actor)
    plan = get_plan(call.ctx, plan_id)
    return PlanDetail(
        id=plan.id, title=plan.title, version=plan.version, document=plan.model_dump(mode="json", by_alias=True),
        states=[
            [name, s.label + (" " + _("(final)") if s.final else ""), s.responsible.describe() if s.responsible else "",
             duration_text(s.deadline),
             f"{duration_text(s.reminder.escalate_after)} / {duration_text(s.reminder.repeat)}" if s.reminder else ""]
            for name, s in plan.states.items()
        ],
        triggers=[
            [t.trigger, ", ".join(t.source), t.dest or _("(recorded, state unchanged)"),
             _(" or ").join(a.describe() for a in t.allowed),
             ", ".join([*(f"{n}{'*' if f.required else ''}" for n, f in t.fields.items()),
                        *(["note*"] if t.note_required else [])])]
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
    metrics: str | None = None  # the Prometheus text after the sweep (``remind --metrics-file``), if asked


def verify(call: Call, *, seals: str | None = None) -> Any:
    """Replay every chain and check the log against the latest seal (or the copy of the seal file ``seals``)."""
    from indsats.adapters.seal_file import SealFile
    from indsats.engine.log.verify import verify as verify_all
    from indsats.usecases import require_registered

    if call.served:
        require_registered(call.ctx, call.actor)
        if seals is not None:
            raise Invalid(_("verify --seals reads a file: run it directly on the database, as the server's service user"))
    report = verify_all(call.ctx, seal_file=SealFile(Path(seals)) if seals else None)
    if not call.served and report.ok:
        # Directly on the file (whose owner could do anything anyway) a broken log is reported even when the
        # actor no longer verifies: an emptied users table is what verify is for.
        require_registered(call.ctx, call.actor)
    return report


def remind(call: Call, *, at: str | None = None, dry_run: bool = False, worker: str = "", metrics: bool = False) -> Swept:
    """One sweep, for admins. Through a server its clock is the only clock: a sweep as of a later time
    would send every escalation early (and so silence them), so only a dry run may look ahead.
    ``metrics``: also the Prometheus text after the sweep, for the caller's node_exporter textfile."""
    from datetime import timedelta

    from indsats.bootstrap import build_notifier
    from indsats.engine.org.users import require_admin
    from indsats.engine.reminders.sweep import sweep

    ctx = call.at(at)
    with ctx.db.unit_of_work() as uow:
        require_admin(uow.repo, call.actor)
    if call.served and at is not None and not dry_run and ctx.clock.now() > call.ctx.clock.now():
        raise Invalid(_("through a server, remind --at may look ahead only with --dry-run: the server's clock decides when reminders are due"))
    notifier = build_notifier(call.settings)
    started = time.perf_counter()
    result = sweep(ctx, notifier, worker=worker or "remind", mail_from=call.settings.mail_from, dry_run=dry_run,
                   lease=timedelta(seconds=call.settings.lease_seconds))
    seconds = time.perf_counter() - started
    if not dry_run:
        from indsats.jobs import beat

        beat(call.settings, ctx, worker or "remind", result)  # the heartbeat `indsats health` reads
    text = None
    if metrics and not dry_run:
        from indsats.adapters.metrics import Metrics

        gauges = Metrics(ctx)
        gauges.sweep_seconds.observe(seconds)
        gauges.count_sweep(result)
        text = gauges.text()
    return Swept(result=result, via=notifier.describe(), seconds=seconds, metrics=text)


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
        raise Invalid(_("no year {year} in the calendar: give a year from {MINYEAR} to {MAXYEAR}, e.g. 2026").format(year=year, MINYEAR=MINYEAR, MAXYEAR=MAXYEAR))
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
        raise NotAllowed(_("backup runs directly on the database, as the server's service user"))
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
        raise Invalid(_("bad date '{text}' for {option}: use YYYY-MM-DD, e.g. 2026-03-02").format(text=text, option=option)) from None


# -- people ------------------------------------------------------------------------------------------


def users_deputy(call: Call, *, login: str, deputy: str | None = None, start: str | None = None,
                 end: str | None = None, clear: bool = False) -> Any:
    """Name ``deputy`` for ``login`` from ``start`` until ``end`` (dates), or ``clear`` it."""
    from indsats.engine.org.deputies import clear_deputy, set_deputy

    if clear:
        if deputy or start or end:
            raise Invalid(_("--clear takes no --to, --from or --until"))
        return clear_deputy(call.ctx, actor=call.actor, login=login)
    if deputy is None:
        raise Invalid(_("give --to LOGIN (or --clear)"))
    return set_deputy(call.ctx, actor=call.actor, login=login, deputy=deputy, start=_date(start, "--from"),
                      end=_date(end, "--until"))


# -- plans -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlanList:
    """The plans on offer, and why each plan file that is not on offer was refused."""

    plans: list[Any]  # PlanSummary
    rejected: list[str]


def plans_list(call: Call) -> PlanList:
    from indsats.engine.plans.service import list_plans
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    return PlanList(plans=list_plans(call.ctx), rejected=[p.message for p in call.ctx.catalog.rejected()])


def plans_sources(call: Call, *, plan_id: str) -> list[str]:
    """The sources a concern under ``plan_id`` may come from (``open --source``): a usage error is one
    before anything else, so directly on the file they are read even before the database is there."""
    from indsats.usecases import require_registered

    if call.served:
        require_registered(call.ctx, call.actor)
    return list(call.ctx.catalog.get(plan_id).plan.sources)


def plans_check(call: Call, *, plan_id: str, org: bool = False) -> ValidationView:
    from indsats.engine.plans.service import check_organisation
    from indsats.usecases import require_registered

    require_registered(call.ctx, call.actor)
    found = check_organisation(call.ctx, plan_id=plan_id, org=org)
    return ValidationView(plan_id=plan_id, plan_version=found.plan.version if found.plan else None,
                          findings=found.findings, users_checked=found.users_checked,
                          users_skipped_because=found.users_skipped_because)


# -- seals, health, the schema ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sealing:
    """A seal written (or the latest, ``show``), where it was appended, and the line for the caller's copy."""

    seal: Any  # Seal | None
    appended_to: str | None  # the configured seal file
    copy: dict[str, Any] | None  # the seal file's line, for the caller to append to its own copy (--to)


class _Copy:
    """A ``SealLog`` that keeps the line for the caller: the copy is written on the caller's side, as the caller."""

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None

    def append(self, record: dict[str, Any]) -> None:
        self.record = record

    def read(self) -> list[dict[str, Any]]:
        return [] if self.record is None else [self.record]

    def describe(self) -> str:
        return "the caller's copy"


def seal(call: Call, *, show: bool = False, copy: bool = False) -> Sealing:
    """Sign a checkpoint (admins), or read the latest (``show``: admins and supervisors)."""
    from indsats.engine.log.seals import latest_seal, write_seal

    if show:
        return Sealing(seal=latest_seal(call.ctx, actor=call.actor), appended_to=None, copy=None)
    to = _Copy() if copy else None
    found = write_seal(call.ctx, actor=call.actor, to=to)
    log = call.ctx.seal_log
    return Sealing(seal=found, appended_to=log.describe() if log is not None else None,
                   copy=to.record if to is not None else None)


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class Health:
    """``indsats health``: each check with its one-line detail."""

    healthy: bool
    checks: list[Check]
    last_sweep: datetime | None
    oldest_due: datetime | None


def health(call: Call, *, max_due_age: int = 900) -> Health:
    """Can this installation do its work right now? Through a server, for admins (directly on the file, for
    whoever can open it: a database that does not answer must still be reported)."""
    from indsats.adapters.heartbeat import read_heartbeat
    from indsats.bootstrap import build_notifier, probe_mail
    from indsats.commands.render import local
    from indsats.engine.privacy.keys import check_key
    from indsats.engine.reminders.backlog import due_backlog
    from indsats.errors import IndsatsError
    from indsats.storage.schema import schema_status

    if call.served:
        _require_admin(call, _("checks the server's health"))
    ctx, settings = call.ctx, call.settings
    checks: list[Check] = []
    oldest: datetime | None = None
    try:
        status = schema_status(ctx.db)
        checks.append(Check(name="database", ok=status.ok, detail=_(
            "{database}: schema {current} (expected {expected}, {state})").format(
            database=status.database, current=status.current or "-", expected=status.expected,
            state=_(SCHEMA_STATES.get(status.state.value, status.state.value)))))
    except IndsatsError as exc:
        status = None
        checks.append(Check(name="database", ok=False, detail=exc.message))
    if status is not None and status.ok:
        try:
            checks.append(Check(name="key", ok=True, detail=check_key(ctx)))
        except IndsatsError as exc:
            checks.append(Check(name="key", ok=False, detail=exc.message))
    else:
        checks.append(Check(name="key", ok=False, detail=_("not checked: the database is not usable")))
    try:
        problem = probe_mail(settings)
        checks.append(Check(name="smtp", ok=problem is None, detail=problem or build_notifier(settings).describe()))
    except IndsatsError as exc:
        checks.append(Check(name="smtp", ok=False, detail=exc.message))
    beat = read_heartbeat(settings.data_dir)
    checks.append(Check(name="last_sweep", ok=True, detail=(
        _("{at} by {worker}: {summary}").format(at=local(beat.at), worker=beat.worker, summary=beat.summary)
        if beat else _("no sweep recorded here yet"))))
    if status is not None and status.ok:
        try:
            backlog = due_backlog(ctx)
            oldest = backlog.oldest_due_at
            ok = backlog.oldest_age_seconds <= max_due_age
            detail = (_("{n} due; the oldest since {at} ({seconds:.0f} s)").format(
                n=backlog.due, at=local(oldest), seconds=backlog.oldest_age_seconds) if oldest else _("none due"))
            checks.append(Check(name="oldest_due", ok=ok, detail=detail))
        except IndsatsError as exc:
            checks.append(Check(name="oldest_due", ok=False, detail=exc.message))
    else:
        checks.append(Check(name="oldest_due", ok=False, detail=_("not checked: the database is not usable")))
    return Health(healthy=all(c.ok for c in checks), checks=checks, last_sweep=beat.at if beat else None,
                  oldest_due=oldest)


# A schema state as ``health`` says it (``--json`` and ``db status --json`` keep the value).
SCHEMA_STATES = {"current": N_("current"), "older": N_("older"), "newer": N_("newer"),
                 "uninitialised": N_("uninitialised"), "missing": N_("missing")}


def db_status(call: Call) -> Any:
    """The database's schema revision and the one this indsats expects (a ``SchemaStatus``). Through a
    server, for admins; directly on the file, for whoever can open it (even one not initialised yet)."""
    from indsats.storage.schema import schema_status

    if call.served:
        _require_admin(call, _("reads the server's schema status"))
    return schema_status(call.ctx.db)


def _require_admin(call: Call, does: str) -> None:
    from indsats.engine.org.users import require_admin

    with call.ctx.db.unit_of_work() as uow:
        require_admin(uow.repo, call.actor, does=does)

