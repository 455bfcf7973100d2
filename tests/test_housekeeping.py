"""The worker's scheduled checks: verify tells admins of a break in one e-mail, the retention check counts
the cases due for archive, the access-log sample draws reads and changes for review; no personal data."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from fakes import RecordingNotifier
from indsats.engine.cases.service import advance, open_case
from indsats.engine.cases.views import show_case
from indsats.engine.context import Context
from indsats.engine.housekeeping import access_sample_report, refresh_statistics, retention_report, verify_and_report
from indsats.engine.privacy.access_log import sample_access
from indsats.engine.reminders.backlog import due_backlog
from indsats.engine.time.clock import FixedClock
from indsats.errors import NotAllowed

PLAN = "radikalisering"
SUBJECT = "BORGER-REF-HEMMELIG"
NOTE = "Naboen fortalte om Jens Hansen"
MAIL_FROM = "indsats@kommune.example"


@pytest.fixture
def admins_with_mail(ctx: Context, org: Any) -> None:
    from indsats.engine.log.org_chain import record_org_change

    with ctx.db.unit_of_work(write=True) as uow:
        uow.repo.update_user("admin", {"email": "admin@example.org"})
        # Every change to users is an event of the organisation chain (verify replays users from it).
        record_org_change(uow.repo, at=ctx.clock.now(), actor="admin", kind="user_changed", table="users",
                          key={"login": "admin"}, values={"email": "admin@example.org"})
        uow.commit()


def personal(message_text: str) -> list[str]:
    """The personal data of these tests found in ``message_text``."""
    return [w for w in (SUBJECT, "Jens", "Hansen", "Emil", "Lea", "emil@", "lea@") if w in message_text]


def test_a_log_that_verifies_sends_nothing(ctx: Context, case_in: Callable[..., str], admins_with_mail: None) -> None:
    case_in("assessed")
    notifier = RecordingNotifier()

    result = verify_and_report(ctx, notifier, mail_from=MAIL_FROM)

    assert (result.ok, result.count, result.told) == (True, 0, 0)
    assert notifier.sent == []


def test_a_break_in_the_log_sends_the_admins_one_email_without_personal_data(
    ctx: Context, admins_with_mail: None
) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=SUBJECT, note=NOTE).case_id
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader", values={})
    with ctx.db.connect() as conn:  # someone with direct access removes an event
        conn.execute(text("DELETE FROM events WHERE case_id = :c AND seq = 2"), {"c": case_id})
        conn.commit()
    notifier = RecordingNotifier()

    result = verify_and_report(ctx, notifier, mail_from=MAIL_FROM)

    assert not result.ok and result.count >= 1 and result.told == 1
    (mail,) = notifier.sent
    assert mail.to == ("admin@example.org",)
    assert case_id in mail.body and "indsats verify" in mail.body
    assert personal(mail.subject + mail.body) == []


def test_the_retention_check_tells_admins_how_many_cases_are_due_for_archive(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], admins_with_mail: None
) -> None:
    old = case_in("assessed")
    advance(ctx, actor="lea", case_id=old, trigger="decide", values={"police_report": "no", "rationale": "Ingen"})
    assert not show_case(ctx, actor="admin", case_id=old).is_open
    notifier = RecordingNotifier()
    assert retention_report(ctx, notifier, mail_from=MAIL_FROM).count == 0  # closed today: five years to go

    clock.advance(days=5 * 366)
    result = retention_report(ctx, notifier, mail_from=MAIL_FROM)

    assert (result.ok, result.count, result.told) == (False, 1, 1)
    (mail,) = notifier.sent
    assert "1 sag(er)" in mail.subject and "indsats archive export" in mail.body
    assert old not in mail.body and personal(mail.body) == []


def test_the_access_sample_draws_reads_and_changes_of_the_last_week_for_auditors(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], admins_with_mail: None
) -> None:
    first = case_in("assessed")
    for _ in range(3):
        show_case(ctx, actor="lea", case_id=first)
    clock.advance(days=8)
    recent = case_in("leader_notified")
    show_case(ctx, actor="lea", case_id=recent)

    entries = sample_access(ctx, actor="sup", size=50, rng=random.Random(7))
    assert {e.case_id for e in entries} == {recent}  # nothing older than seven days
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert len(sample_access(ctx, actor="admin", size=1)) == 1
    with pytest.raises(NotAllowed):
        sample_access(ctx, actor="emil")

    notifier = RecordingNotifier()
    result = access_sample_report(ctx, notifier, mail_from=MAIL_FROM, size=2, rng=random.Random(1))
    assert (result.count, result.told) == (2, 1)
    (mail,) = notifier.sent
    assert set(mail.to) == {"admin@example.org", "sup@example.org"}
    assert recent in mail.body and personal(mail.body) == []


def test_the_backlog_counts_due_reminders_and_the_oldest(ctx: Context, clock: FixedClock, case_in: Callable[..., str]) -> None:
    case_in("suspected")
    assert due_backlog(ctx).due == 1  # the notice to whoever must act is due at once
    clock.advance(days=7)

    backlog = due_backlog(ctx)

    assert backlog.due == 4 and backlog.oldest_due_at is not None  # the notice, the reminder, two escalations
    assert backlog.oldest_age_seconds == (clock.now() - backlog.oldest_due_at).total_seconds() > 0
    assert backlog.open_by_state == {(PLAN, "suspected"): 1}


def test_the_statistics_job_gives_the_query_planner_the_tables_as_they_are_now(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    def cases_known() -> int | None:
        """How many cases the planner's statistics say there are (None: none at all)."""
        with ctx.db.connect() as conn:
            if ctx.db.is_sqlite:
                if not conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).all():
                    return None
                found = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'cases' AND idx IS NOT NULL")).first()
                return None if found is None else int(found[0].split()[0])
            tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'cases'")).scalar()
            return None if tuples is None or tuples < 0 else int(tuples)

    for state in ("suspected", "leader_notified", "specialist_notified"):
        case_in(state)
    assert cases_known() != 3

    result = refresh_statistics(ctx)

    assert (result.check, result.ok, result.error) == ("statistics", True, None)
    assert cases_known() == 3
