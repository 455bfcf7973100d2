"""Group commit on SQLite (``Database.write_batch``, ``indsats.storage.hot.WriteBatch``): the hot units of work one
thread opens inside a batch share one transaction, a savepoint each, and one ``COMMIT`` makes them durable. The
server's write thread runs the waiting ``advance`` requests so (``indsats.server.app.Writes``; through a real
server in ``tests/test_server.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from indsats.engine.cases.service import advance
from indsats.errors import IndsatsError, Invalid, NotAllowed

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.storage.database import Database


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """A batch is SQLite's (PostgreSQL commits each request on its own connection): the SQLite file only."""
    return sqlite_database


def states(ctx: Context, *case_ids: str) -> list[str]:
    """The cases' states as another connection reads them (what is committed)."""
    from indsats.storage.database import Database

    other = Database(ctx.db.url.render_as_string(hide_password=False))
    try:
        with other.unit_of_work() as uow:
            found = [uow.repo.get_case(case_id) for case_id in case_ids]
        return [c.state if c is not None else "?" for c in found]
    finally:
        other.dispose()


def test_advances_in_a_batch_are_committed_together_when_it_ends(ctx: Context, case_in: Callable[..., str]) -> None:
    first, second = case_in(), case_in()
    with ctx.db.write_batch():
        advance(ctx, actor="emil", case_id=first, trigger="notify_leader")
        advance(ctx, actor="emil", case_id=second, trigger="notify_leader")
        assert states(ctx, first, second) == ["suspected", "suspected"]  # committed only at the end
    assert states(ctx, first, second) == ["leader_notified", "leader_notified"]


def test_one_that_fails_in_a_batch_is_undone_alone(ctx: Context, case_in: Callable[..., str]) -> None:
    first, refused, third = case_in(), case_in(), case_in()
    with ctx.db.write_batch():
        advance(ctx, actor="emil", case_id=first, trigger="notify_leader")
        with pytest.raises(NotAllowed):  # emil may not notify the specialist; nothing of it is written
            advance(ctx, actor="emil", case_id=refused, trigger="notify_leader")
            advance(ctx, actor="emil", case_id=refused, trigger="notify_specialist")
        with pytest.raises(Invalid):
            advance(ctx, actor="emil", case_id=third, trigger="no_such_trigger")
        advance(ctx, actor="emil", case_id=third, trigger="notify_leader")
    assert states(ctx, first, refused, third) == ["leader_notified", "leader_notified", "leader_notified"]
    history = [e.kind.value for e in _events(ctx, refused)]
    assert history.count("advanced") == 1  # its first step only


def test_one_that_fails_after_writing_in_a_batch_leaves_none_of_its_rows(
        ctx: Context, case_in: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from indsats.engine.cases import service

    first, broken = case_in(), case_in()
    rows_of = service.reminder_rows

    def fails_for_broken(case_id: str, *args: object) -> object:
        if case_id == broken:  # after the version check and the event: the unit of work has written
            raise OSError("the disk went away")
        return rows_of(case_id, *args)

    monkeypatch.setattr(service, "reminder_rows", fails_for_broken)
    with ctx.db.write_batch():
        advance(ctx, actor="emil", case_id=first, trigger="notify_leader")
        with pytest.raises(OSError):
            advance(ctx, actor="emil", case_id=broken, trigger="notify_leader")
    assert states(ctx, first, broken) == ["leader_notified", "suspected"]
    assert [e.kind.value for e in _events(ctx, broken)] == ["opened"]
    with ctx.db.unit_of_work() as uow:  # its case row as it was: the version check undone with the rest
        case = uow.repo.get_case(broken)
        assert case is not None and case.version == 1


def test_a_later_advance_in_a_batch_reads_what_an_earlier_one_wrote(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in()
    with ctx.db.write_batch():
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
        with pytest.raises(Invalid):  # the same step again: the case has moved on, as if one after the other
            advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
        advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")
    assert states(ctx, case_id) == ["specialist_notified"]


def test_a_batch_that_cannot_commit_writes_nothing_and_says_so(ctx: Context, case_in: Callable[..., str]) -> None:
    first, second = case_in(), case_in()
    with pytest.raises(IndsatsError) as raised:
        with ctx.db.write_batch() as batch:
            advance(ctx, actor="emil", case_id=first, trigger="notify_leader")
            advance(ctx, actor="emil", case_id=second, trigger="notify_leader")
            # A foreign key checked at COMMIT that fails there, as a full disk or a lost file would fail it.
            batch.raw.execute("PRAGMA defer_foreign_keys = ON")
            batch.raw.execute("INSERT INTO grants (login, role, plan_id, granted_at) "
                              "VALUES ('nobody-at-all', 'leder', 'radikalisering', '2026-03-02 08:00:00.000000')")
    assert "Traceback" not in str(raised.value)
    assert states(ctx, first, second) == ["suspected", "suspected"]
    advance(ctx, actor="emil", case_id=first, trigger="notify_leader")  # the next unit of work is its own again
    assert states(ctx, first) == ["leader_notified"]


def test_an_error_out_of_the_batch_rolls_all_of_it_back(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in()
    with pytest.raises(KeyError):
        with ctx.db.write_batch():
            advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
            raise KeyError("the caller failed before the commit")
    assert states(ctx, case_id) == ["suspected"]


def test_a_sqlalchemy_unit_of_work_inside_a_batch_is_refused(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in()
    with ctx.db.write_batch():
        with pytest.raises(RuntimeError, match="write batch"):
            with ctx.db.unit_of_work(write=True):
                pass
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    assert states(ctx, case_id) == ["leader_notified"]


def _events(ctx: Context, case_id: str) -> list[object]:
    from indsats.engine.cases.views import case_history

    return list(case_history(ctx, actor="admin", case_id=case_id))
