"""The worker's scheduled checks besides the sweep: verify the event log, count the cases due for
archive, draw the weekly access-log sample, and refresh the query planner's statistics. Whoever must act is told by e-mail (admins; for the
sample, admins and supervisors) with counts, case ids and roles only — never a subject reference, a
note or a name.

>>> verify_and_report(ctx, notifier, mail_from="indsats@kommune.dk")   # doctest: +SKIP
CheckResult(check='verify', ok=False, count=2, told=1, error=None)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from indsats.engine.ports import Message, make_notice_id
from indsats.engine.time.clock import to_local

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.ports import Notifier
    from indsats.engine.privacy.access_log import AccessEntry

CASES_LISTED = 20


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """What one scheduled check found and whom it told."""

    check: str
    ok: bool  # nothing to act on
    count: int  # breaks found / cases due for archive / entries sampled
    told: int = 0  # e-mails the notifier accepted
    error: str | None = None  # why telling failed (never personal data)


def verify_and_report(ctx: Context, notifier: Notifier, *, mail_from: str) -> CheckResult:
    """Verify the whole event log; on a break, send the admins one e-mail saying how many and where."""
    from indsats.engine.log.verify import verify

    report = verify(ctx)
    if report.ok:
        return CheckResult(check="verify", ok=True, count=0)
    cases = sorted({problem.split()[1] for problem in report.problems if problem.startswith("case ")})
    listed = ", ".join(cases[:CASES_LISTED]) + (" …" if len(cases) > CASES_LISTED else "")
    body = (
        f"Nattens kontrol af hændelsesloggen fandt {len(report.problems)} brud"
        f" i {len(cases)} sag(er): {listed}.\n\n"
        "Loggen kan være ændret uden om indsats. Kør 'indsats verify' for detaljerne, og sammenlign med\n"
        "seneste backup. Denne besked indeholder ingen personoplysninger.\n"
    )
    told, error = _tell(ctx, notifier, ("admin",), mail_from=mail_from, topic="verify",
                        subject="indsats: hændelsesloggen kunne ikke verificeres", body=body)
    return CheckResult(check="verify", ok=False, count=len(report.problems), told=told, error=error)


def refresh_statistics(ctx: Context) -> CheckResult:
    """Refresh the database's query-planner statistics, so that the supervisors' queries keep the plans they
    were measured with as the tables grow (``Queries.refresh_statistics``)."""
    with ctx.db.unit_of_work(write=True) as uow:
        uow.repo.refresh_statistics()
        uow.commit()
    return CheckResult(check="statistics", ok=True, count=0)


def retention_report(ctx: Context, notifier: Notifier, *, mail_from: str) -> CheckResult:
    """Count the closed cases whose plan's retention rule has run out and that are not archived yet."""
    from indsats.engine.privacy.retention import due_cases

    with ctx.db.unit_of_work() as uow:
        due = [c for c in due_cases(ctx, uow.repo, ctx.clock.now()) if c.archived_at is None]
    if not due:
        return CheckResult(check="retention", ok=True, count=0)
    body = (
        f"{len(due)} afsluttet/afsluttede sag(er) har nået slettefristen i deres plan og venter på arkivering.\n\n"
        "Kør 'indsats archive export FIL' og aflever filen efter arkivloven; derefter 'indsats purge'.\n"
    )
    told, error = _tell(ctx, notifier, ("admin",), mail_from=mail_from, topic="retention",
                        subject=f"indsats: {len(due)} sag(er) klar til arkivering", body=body)
    return CheckResult(check="retention", ok=False, count=len(due), told=told, error=error)


def access_sample_report(
    ctx: Context, notifier: Notifier, *, mail_from: str, size: int = 20, rng: random.Random | None = None
) -> CheckResult:
    """Draw the week's access-log sample and send it to admins and supervisors (times, case ids, roles, actions)."""
    from indsats.engine.privacy.access_log import draw_sample

    now = ctx.clock.now()
    with ctx.db.unit_of_work() as uow:
        entries = draw_sample(uow.repo, since=now - timedelta(days=7), size=size, rng=rng)
    if not entries:
        return CheckResult(check="access-sample", ok=True, count=0)
    lines = "\n".join(_sample_line(e) for e in entries)
    body = (
        f"Ugens stikprøve af adgangsloggen: {len(entries)} opslag og ændringer fra de seneste 7 dage.\n"
        "Kontrollér at hver enkelt havde et arbejdsbetinget formål ('indsats access sample' viser også login).\n\n"
        f"{lines}\n"
    )
    told, error = _tell(ctx, notifier, ("admin", "supervisor"), mail_from=mail_from, topic="access-sample",
                        subject="indsats: ugens stikprøve af adgangsloggen", body=body)
    return CheckResult(check="access-sample", ok=True, count=len(entries), told=told, error=error)


def _sample_line(entry: AccessEntry) -> str:
    return f"{to_local(entry.at).strftime('%Y-%m-%d %H:%M')}  {entry.case_id}  {entry.role}  {entry.action}"


def _tell(
    ctx: Context, notifier: Notifier, roles: tuple[str, ...], *, mail_from: str, topic: str, subject: str, body: str
) -> tuple[int, str | None]:
    """One e-mail to every active user with one of ``roles`` and an address; (accepted, error)."""
    with ctx.db.unit_of_work() as uow:
        addresses = sorted({
            u["email"] for role in roles for u in uow.repo.users_with_role(role) if u.get("email") and u.get("active", True)
        })
    if not addresses:
        return 0, f"no {' or '.join(roles)} with an e-mail address"
    now = ctx.clock.now()
    message = Message(reminder_id=0, message_id=make_notice_id(f"{topic}-{now:%Y%m%d%H%M}", mail_from),
                      to=tuple(addresses), subject=subject, body=body, sent_at=now)
    (result,) = notifier.deliver([message])
    return (1, result.error) if result.ok else (0, result.error or "delivery failed")
