"""Retention: archive the cases a plan's deletion rule has reached, then purge their personal data.

A municipality may delete only under a rule it is authorised to apply, and what the national archives
keep must be handed over first: so ``archive export`` writes the due cases (with their events) to a
self-describing file, and ``purge`` refuses any due case that was not archived. Purging empties the
payloads and the subject reference and keeps the skeleton (plan, states, times) for statistics; the
chain covers payload digests, so ``verify`` still passes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from indsats.engine.log import journal
from indsats.engine.time.clock import LOCAL_TZ, as_utc
from indsats.engine.cases.views import log_view
from indsats.engine.privacy.crypto import open_payload
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.org.users import require_admin
from indsats.errors import Invalid
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

RULE = re.compile(r"^\s*(\d+)\s+years?\s+after\s+closing\s*$", re.IGNORECASE)
ARCHIVE_FORMAT = "indsats-archive/1"


@dataclass(frozen=True, kw_only=True)
class RetentionResult:
    cases: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # due but not archived: purge leaves them alone
    file: str | None = None


def retention_years(plan: Plan) -> int | None:
    """The plan's rule as a number of years after closing; None when the plan states no rule."""
    if plan.retention is None:
        return None
    match = RULE.match(plan.retention)
    if match is None:
        raise Invalid(_("plan '{plan}': retention '{retention}' is not 'N years after closing'").format(
            plan=plan.id, retention=plan.retention))
    return int(match.group(1))


def due_cases(ctx: Context, repo: Repository, before: datetime) -> list[Case]:
    """Closed, unpurged cases whose plan's rule has run out by ``before``."""
    found = []
    for case in repo.closed_cases():
        plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
        years = retention_years(plan)
        if years is None or case.closed_at is None:
            continue
        closed = case.closed_at
        try:
            expires = closed.replace(year=closed.year + years)
        except ValueError:  # closed on 29 February
            expires = closed.replace(year=closed.year + years, day=28)
        if expires <= before:
            found.append(case)
    return found


def archive_export(ctx: Context, *, actor: str, path: Path, before: date | None = None) -> RetentionResult:
    """Write every case due for deletion to ``path`` (JSON, 0600) and mark it archived."""
    cipher = ctx.keys.cipher()
    now = ctx.clock.now().replace(microsecond=0)
    limit = _limit(before, now)
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        due = due_cases(ctx, repo, limit)
        plans: dict[str, str] = {}
        exported = []
        for case in due:
            text = repo.plan_text(case.plan_id, case.plan_version)
            plans[f"{case.plan_id}@{case.plan_version}"] = text or ""
            exported.append(
                {
                    **{k: v for k, v in asdict(case).items() if k not in ("subject_ref", "subject_index")},
                    "subject_ref": None if case.subject_ref is None else cipher.open(case.subject_ref),
                    "events": [
                        {**row, "payload": open_payload(row["payload"], cipher)} for row in repo.events_for(case.id)
                    ],
                }
            )
        ctx.private_files().write_private_json(
            path,
            {
                "format": ARCHIVE_FORMAT,
                "description": "Cases due for deletion under their plan's retention rule, with their full event "
                "history, exported before purging. Times are UTC; 'plans' holds each plan version's text.",
                "exported_at": now.isoformat(),
                "exported_by": me.login,
                "due_before": limit.isoformat(),
                "plans": plans,
                "cases": exported,
            },
        )
        for case in due:
            log_view(repo, case, me.login, "archive export", now, os_login=ctx.os_login)  # who took the plaintext
            journal.append(
                repo,
                Draft(case_id=case.id, kind=EventKind.archived, at=now, actor=me.login, from_state=case.state,
                      to_state=case.state, payload={"archive": path.name}),
                case_changes={"archived_at": now}, os_login=ctx.os_login,
            )
        uow.commit()
    return RetentionResult(cases=[c.id for c in due], file=str(path))


def purge(ctx: Context, *, actor: str, dry_run: bool = False) -> RetentionResult:
    """Remove the personal data of archived cases past their rule; refuse if any due case is not archived."""
    now = ctx.clock.now().replace(microsecond=0)
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        due = due_cases(ctx, repo, now)
        refused = [c.id for c in due if c.archived_at is None]
        ready = [c for c in due if c.archived_at is not None]
        if dry_run:
            return RetentionResult(cases=[c.id for c in ready], refused=refused)
        if refused:
            raise Invalid(
                f"{len(refused)} case(s) are due for deletion but not archived (first: {refused[0]}): "
                "run 'indsats archive export FILE' first; nothing was purged"
            )
        for case in ready:
            repo.purge_event_payloads(case.id)
            journal.append(
                repo,
                Draft(case_id=case.id, kind=EventKind.purged, at=now, actor=me.login, from_state=case.state,
                      to_state=case.state),
                case_changes={"subject_ref": None, "subject_index": None, "purged_at": now}, os_login=ctx.os_login,
            )
        uow.commit()
    return RetentionResult(cases=[c.id for c in ready])


def _limit(before: date | None, now: datetime) -> datetime:
    if before is None:
        return now
    return as_utc(datetime.combine(before, time(0, 0), tzinfo=LOCAL_TZ))
